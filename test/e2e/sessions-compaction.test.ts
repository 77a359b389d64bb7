/**
 * Compaction against the compiled daemon and a recording provider: by
 * threshold (a prompt past compact_threshold of the model's context
 * window) and by a Compact request. The fake provider answers the
 * summarize call itself; the next turn's request carries the summary in
 * place of the old messages, the session file still holds every line plus
 * a compaction marker, and subscribers see a compaction event with tokens
 * before and after. A summarize call that fails (HTTP 500) leaves the
 * history unchanged and the client gets a clear error.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DaemonError, type CrabtalkClient } from "../../src/client/client.ts";
import type { AgentEvent } from "../../src/protocol/gen/crabtalk.ts";
import { requestsDispatched } from "../helpers/barrier.ts";
import { errorReply, FakeProvider, sseReply, type RecordedRequest } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { runCli, startDaemon, tempHome } from "../helpers/daemon.ts";
import { contentText, endOf, messagesOf, sessionOf, streamTurn, textOf, waitFor } from "../helpers/turn-kit.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const CONFIG = (url: string) => `[daemon]
tcp = false
compact_threshold = 0.5
[provider.fake]
kind = "openai"
base_url = "${url}/v1"
models = ["fake-model"]
max_retries = 0
context_window = { "fake-model" = 1000 }
[agents.crab]
model = "fake-model"
`;

function isSummarize(req: RecordedRequest): boolean {
  return messagesOf(req).some((m) => m.role === "user" && contentText(m).startsWith("Summarize this conversation"));
}

interface Script {
  summary: string;
  failSummarize: boolean;
  /** Prompt tokens the model reports for ordinary turns. */
  promptTokens: number;
}

function scriptedProvider(fake: FakeProvider, script: Script): void {
  fake.route((req) => {
    if (isSummarize(req)) {
      if (script.failSummarize)
        return errorReply(500, { error: { message: "summarizer exploded", type: "server_error" } });
      return sseReply(openaiSse({ text: script.summary, usage: { prompt: 300, completion: 40 } }));
    }
    const last = contentText(messagesOf(req).at(-1)!);
    return sseReply(openaiSse({ text: `answer to ${last}`, usage: { prompt: script.promptTokens, completion: 20 } }));
  });
}

/** Collects every AgentEvent of the daemon until stopped. */
function subscribe(c: CrabtalkClient): { events: AgentEvent[]; stop(): void } {
  const events: AgentEvent[] = [];
  let stopped = false;
  const it = c.stream({ subscribeEvents: {} })[Symbol.asyncIterator]();
  void (async () => {
    try {
      while (!stopped) {
        const r = await it.next();
        if (r.done) return;
        if (r.value.event) events.push(r.value.event);
      }
    } catch {
      // connection closed
    }
  })();
  return {
    events,
    stop() {
      stopped = true;
      void it.return?.();
    },
  };
}

function fileRecords(
  home: string,
  id: number,
): {
  kind: string;
  message?: { role: string; content: string };
  event?: { type: string; data?: Record<string, unknown> };
  summary?: string;
}[] {
  return readFileSync(join(home, "sessions", `${id}.jsonl`), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

test("by threshold: the summary replaces the old messages for the model, the file keeps them, subscribers see tokens before and after", async () => {
  await using fake = await FakeProvider.start();
  const script: Script = {
    summary: "SUMMARY-ALPHA: the user likes tea; open task: buy kettle.",
    failSummarize: false,
    promptTokens: 100,
  };
  scriptedProvider(fake, script);
  const home = tempHome("crabtalk-compact-");
  homes.push(home);
  await using d = await startDaemon({ home, config: CONFIG(fake.url) });
  const c = await d.client();
  const sub = subscribe(c);
  await requestsDispatched(c); // the subscription is registered before the turns start

  const t1 = await streamTurn(c, { content: "I like tea" });
  const id = sessionOf(t1);
  script.promptTokens = 650; // 65% of the 1,000-token window, past 50%
  const t2 = await streamTurn(c, { content: "remind me to buy a kettle", session: id });
  expect(endOf(t2).stopReason).toBe("stop");
  await waitFor(() => sub.events.some((e) => e.kind === "compaction"), 10_000, "the compaction event");
  // One summarize call, right after the turn that passed the threshold (the first turn, at 10%, caused none).
  expect(fake.requests.map(isSummarize)).toEqual([false, false, true]);

  const compaction = sub.events.find((e) => e.kind === "compaction")!;
  expect(Number(compaction.session)).toBe(id);
  const payload = compaction.payload!.compaction!;
  expect(Number(payload.tokensBefore)).toBeGreaterThanOrEqual(650);
  expect(Number(payload.tokensAfter)).toBeGreaterThan(0);
  expect(Number(payload.tokensAfter)).toBeLessThan(Number(payload.tokensBefore));
  expect(payload.summary).toBe(script.summary);
  // The summarize request carried the whole conversation.
  const summarizeText = messagesOf(fake.requests.find(isSummarize)!).map(contentText).join("\n");
  expect(summarizeText).toContain("I like tea");
  expect(summarizeText).toContain("answer to remind me to buy a kettle");

  script.promptTokens = 100;
  const t3 = await streamTurn(c, { content: "what next?", session: id });
  expect(textOf(t3)).toBe("answer to what next?");
  const sent = messagesOf(fake.requests.at(-1)!).filter((m) => m.role !== "system");
  expect(sent).toHaveLength(2);
  expect(sent[0]!.role).toBe("user");
  expect(contentText(sent[0]!)).toContain(script.summary);
  expect(contentText(sent[1]!)).toBe("what next?");
  const allSent = sent.map(contentText).join("\n");
  expect(allSent).not.toContain("I like tea");

  // History shows everything, not just what the model sees (and, being a read through the daemon, waits for its pending appends).
  const history = (await c.request({ getHistory: { session: id } })).history!.messages;
  // The file still holds every message, then the marker, then the new turn.
  const records = fileRecords(home, id);
  const messages = records.filter((r) => r.kind === "message").map((r) => r.message!.content);
  expect(messages).toEqual([
    "I like tea",
    "answer to I like tea",
    "remind me to buy a kettle",
    "answer to remind me to buy a kettle",
    "what next?",
    "answer to what next?",
  ]);
  const markerAt = records.findIndex((r) => r.kind === "compaction");
  expect(records[markerAt]!.summary).toBe(script.summary);
  expect(markerAt).toBeLessThan(records.findIndex((r) => r.kind === "message" && r.message!.content === "what next?"));
  // The trace holds the compaction event too, for replay.
  expect(records.some((r) => r.kind === "event" && r.event!.type === "compaction")).toBe(true);
  expect(history.map((m) => m.content)).toEqual(messages);
  // Replay shows the marker, once, between the turns it separates.
  const replay = await runCli(["replay", String(id)], { CRABTALK_HOME: home, NO_COLOR: "1" });
  expect(replay.code).toBe(0);
  expect(replay.stdout.match(/history compacted/g)?.length).toBe(1);
  expect(replay.stdout.indexOf("history compacted")).toBeGreaterThan(
    replay.stdout.indexOf("remind me to buy a kettle"),
  );
  expect(replay.stdout.indexOf("history compacted")).toBeLessThan(replay.stdout.indexOf("what next?"));
  sub.stop();
  c.close();
}, 30_000);

test("by request, and a failing summarize leaves history unchanged with a clear error", async () => {
  await using fake = await FakeProvider.start();
  const script: Script = { summary: "SUMMARY-BETA: talked about rivers.", failSummarize: true, promptTokens: 50 };
  scriptedProvider(fake, script);
  const home = tempHome("crabtalk-compact-");
  homes.push(home);
  await using d = await startDaemon({ home, config: CONFIG(fake.url) });
  const c = await d.client();
  const id = sessionOf(await streamTurn(c, { content: "tell me about rivers" }));
  await streamTurn(c, { content: "and the Danube?", session: id });
  const before = readFileSync(join(home, "sessions", `${id}.jsonl`), "utf8");

  // Failing: HTTP 500 from the summarize call.
  const failed = await c.request({ compact: { session: id } }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(failed).toBeInstanceOf(DaemonError);
  expect((failed as DaemonError).code).toBe(502);
  expect((failed as DaemonError).message).toMatch(/compaction failed, history unchanged/);
  expect((failed as DaemonError).message).toMatch(/500|summarizer exploded/);
  const after = readFileSync(join(home, "sessions", `${id}.jsonl`), "utf8");
  expect(after.includes('"kind":"compaction"')).toBe(false);
  expect(after.length).toBeGreaterThanOrEqual(before.length);
  await streamTurn(c, { content: "still there?", session: id });
  const unchanged = messagesOf(fake.requests.at(-1)!)
    .filter((m) => m.role !== "system")
    .map(contentText);
  expect(unchanged).toEqual([
    "tell me about rivers",
    "answer to tell me about rivers",
    "and the Danube?",
    "answer to and the Danube?",
    "still there?",
  ]);

  // Succeeding: the reply carries tokens before and after; the next request carries the summary only.
  script.failSummarize = false;
  const ok = await c.request({ compact: { session: id } });
  const comp = ok.stream!.compaction!;
  expect(Number(comp.tokensBefore)).toBeGreaterThan(Number(comp.tokensAfter));
  expect(Number(comp.tokensAfter)).toBeGreaterThan(0);
  await streamTurn(c, { content: "summarize what you know", session: id });
  const compacted = messagesOf(fake.requests.at(-1)!)
    .filter((m) => m.role !== "system")
    .map(contentText);
  expect(compacted).toHaveLength(2);
  expect(compacted[0]).toContain(script.summary);
  expect(compacted[1]).toBe("summarize what you know");
  // Every original message is still on disk, and in the history.
  const history = (await c.request({ getHistory: { session: id } })).history!.messages.map((m) => m.content);
  expect(history.slice(0, 6)).toEqual([
    "tell me about rivers",
    "answer to tell me about rivers",
    "and the Danube?",
    "answer to and the Danube?",
    "still there?",
    "answer to still there?",
  ]);

  // A restart resumes from the summary, not the full history.
  c.close();
  await d.stop();
  await using back = await startDaemon({ home });
  const c2 = await back.client();
  await streamTurn(c2, { content: "after restart", session: id });
  const resumed = messagesOf(fake.requests.at(-1)!)
    .filter((m) => m.role !== "system")
    .map(contentText);
  expect(resumed[0]).toContain(script.summary);
  expect(resumed.slice(1)).toEqual(["summarize what you know", "answer to summarize what you know", "after restart"]);
  c2.close();
}, 30_000);
