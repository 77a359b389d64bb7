/**
 * Crash safety against the compiled daemon: kill -9 while one session is
 * streaming slowly and another is inside a `bash sleep`, then a torn last
 * line appended to a third session's file while the daemon is down. After
 * a restart every session lists and loads, the torn line is ignored and
 * reported once in the log, and later turns on each session send the model
 * a consistent conversation (every tool call answered). And a turn's user
 * message is on disk by the time its model request arrives, so a kill -9
 * while the model answers keeps the question.
 */
import { afterAll, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import type { StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import {
  contentText,
  endOf,
  lastUserText,
  messagesOf,
  pidAlive,
  streamTurn,
  textOf,
  turnConfig,
  waitFor,
  type WireChatMessage,
} from "../helpers/turn-kit.ts";

const home = tempHome("crabtalk-sessions-crash-");
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** A sleep long enough to outlive the test's kill -9, with a duration no other process uses, so we can find (and end) exactly it. */
const SLEEP = "sleep 41.37";
const TORN = '{"ts":1700000000000,"kind":"message","message":{"role":"user","content":"half a wri';

/** Starts a turn and returns once the first event matching `until` arrived; the rest keeps streaming in the background. */
async function startUntil(
  c: CrabtalkClient,
  content: string,
  until: (e: StreamEvent) => boolean,
): Promise<{ session: number; seen: StreamEvent[] }> {
  const seen: StreamEvent[] = [];
  const it = c.stream({ stream: { agent: "crab", content } })[Symbol.asyncIterator]();
  for (;;) {
    const r = await it.next();
    if (r.done)
      throw new Error(`turn "${content}" ended before the awaited event: ${seen.map((e) => e.event).join(",")}`);
    if (!r.value.stream) continue;
    seen.push(r.value.stream);
    if (until(r.value.stream)) break;
  }
  void (async () => {
    try {
      for (;;) if ((await it.next()).done) return;
    } catch {
      // the daemon dies under it
    }
  })();
  return { session: Number(seen[0]!.start!.session), seen };
}

/** Every assistant tool call is followed by a tool message with its id, and every tool message answers an earlier call. */
function assertConsistent(messages: WireChatMessage[]): void {
  const open = new Set<string>();
  for (const m of messages) {
    if (m.role === "assistant") {
      expect(open.size).toBe(0); // a new assistant message only after every call of the previous one is answered
      for (const call of m.tool_calls ?? []) open.add(call.id);
    } else if (m.role === "tool") {
      expect(open.has(m.tool_call_id ?? "")).toBe(true);
      open.delete(m.tool_call_id ?? "");
    } else expect(open.size).toBe(0);
  }
  expect(open.size).toBe(0);
}

function sleepPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim() === SLEEP)
        pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

test("kill -9 mid-stream and mid-bash, a torn line while down: every session loads and continues consistently", async () => {
  await using fake = await FakeProvider.start();
  const slowText = "slow ".repeat(200);
  fake.route((req) => {
    const last = lastUserText(req);
    const msgs = messagesOf(req);
    if (last === "stream slowly")
      return sseReply(openaiSse({ text: slowText, textDeltas: 200 }), { chunkSizes: [200], chunkDelayMs: 100 });
    if (last === "run the sleep" && msgs.at(-1)!.role === "user")
      return sseReply(openaiSse({ toolCalls: [{ id: "call_sleep", name: "bash", args: { command: SLEEP } }] }));
    return sseReply(openaiSse({ text: `fine after: ${last}` }));
  });
  const config = turnConfig(fake.url);

  const d = await startDaemon({ home, config });
  const c = await d.client();
  const done = await streamTurn(c, { content: "a complete turn" });
  const whole = Number(done[0]!.start!.session);
  expect(endOf(done).stopReason).toBe("stop");
  const streaming = await startUntil(c, "stream slowly", (e) => e.chunk !== undefined);
  const sleeping = await startUntil(c, "run the sleep", (e) => e.toolStart !== undefined);
  const file = (id: number) => join(home, "sessions", `${id}.jsonl`);
  // The assistant message with the call is on disk (written to the kernel) before the crash.
  await waitFor(
    () => readFileSync(file(sleeping.session), "utf8").includes('"call_sleep"'),
    5000,
    "the tool call in the session file",
  );
  await waitFor(() => sleepPids().length > 0, 5000, "the bash sleep to start");
  const orphans = sleepPids();
  await d.kill9();
  c.close();
  for (const pid of orphans) if (pidAlive(pid)) process.kill(pid, "SIGKILL");

  // A write cut off mid-line, as a crash during an append leaves it.
  const sizeBefore = readFileSync(file(whole)).byteLength;
  appendFileSync(file(whole), TORN);

  await using back = await startDaemon({ home });
  const c2 = await back.client();
  try {
    const list = (await c2.request({ sessions: {} })).sessions!;
    expect(Number(list.total)).toBe(3);
    expect(list.sessions.map((s) => Number(s.id)).sort()).toEqual([whole, streaming.session, sleeping.session].sort());

    // Every session loads; the torn line is not a message.
    for (const id of [whole, streaming.session, sleeping.session]) {
      const h = (await c2.request({ getHistory: { session: id } })).history!;
      expect(h.messages.length).toBeGreaterThan(0);
      expect(h.messages.some((m) => m.content.includes("half a wri"))).toBe(false);
    }
    const wholeHistory = (await c2.request({ getHistory: { session: whole } })).history!.messages;
    expect(wholeHistory.map((m) => [m.role, m.content])).toEqual([
      ["user", "a complete turn"],
      ["assistant", "fine after: a complete turn"],
    ]);
    // The torn bytes were moved aside, the file cut back to its last whole line.
    expect(readFileSync(file(whole)).byteLength).toBe(sizeBefore);
    expect(existsSync(`${file(whole)}.torn`)).toBe(true);

    // Later turns on every session work and show the model a consistent conversation.
    const before = fake.requests.length;
    for (const id of [whole, streaming.session, sleeping.session]) {
      const events = await streamTurn(c2, { content: `continue ${id}`, session: id });
      expect(endOf(events).stopReason).toBe("stop");
      expect(textOf(events)).toBe(`fine after: continue ${id}`);
    }
    const [reqWhole, reqStreaming, reqSleeping] = fake.requests.slice(before).map(messagesOf);
    for (const msgs of [reqWhole!, reqStreaming!, reqSleeping!]) assertConsistent(msgs);
    expect(reqWhole!.filter((m) => m.role !== "system").map((m) => contentText(m))).toEqual([
      "a complete turn",
      "fine after: a complete turn",
      `continue ${whole}`,
    ]);
    expect(reqStreaming!.some((m) => contentText(m) === "stream slowly")).toBe(true);
    const answered = reqSleeping!.find((m) => m.role === "tool" && m.tool_call_id === "call_sleep");
    expect(contentText(answered!)).toMatch(/interrupted/i);

    // Reported once, however many times the session was loaded since.
    await waitFor(() => existsSync(join(home, "logs", "daemon.log")), 2000, "the daemon log");
    const log = readFileSync(join(home, "logs", "daemon.log"), "utf8");
    const tornReports = log.split("\n").filter((l) => /torn/i.test(l) && l.includes(`session ${whole}`));
    expect(tornReports).toHaveLength(1);
    // The interrupted turns are marked as such in the trace.
    expect(readFileSync(file(sleeping.session), "utf8")).toContain('"kind":"interrupted"');
    expect(readFileSync(file(streaming.session), "utf8")).toContain('"kind":"interrupted"');
  } finally {
    c2.close();
  }
}, 60_000);

test("the user message is on disk when its model request arrives; a kill -9 while the model answers keeps it", async () => {
  await using fake = await FakeProvider.start();
  const ownHome = tempHome("crabtalk-sessions-order-");
  const sessions = join(ownHome, "sessions");
  const onDisk: string[] = [];
  fake.route((req) => {
    const question = lastUserText(req);
    // What a crash at the moment the request is out would leave: is the question in a session file yet?
    for (const f of readdirSync(sessions))
      if (f.endsWith(".jsonl") && readFileSync(join(sessions, f), "utf8").includes(`"content":"${question}"`))
        onDisk.push(question);
    return question === "the last question" ? { kind: "hang" } : sseReply(openaiSse({ text: `ok: ${question}` }));
  });
  try {
    const d = await startDaemon({ home: ownHome, config: turnConfig(fake.url) });
    const c = await d.client();
    const asked: string[] = [];
    for (let i = 0; i < 10; i++) {
      asked.push(`question ${i}`);
      await streamTurn(c, { content: asked.at(-1)! });
    }
    const last = await startUntil(c, "the last question", (e) => e.start !== undefined);
    await fake.waitForRequests(11);
    expect(onDisk).toEqual([...asked, "the last question"]);
    await d.kill9();
    c.close();
    await using back = await startDaemon({ home: ownHome });
    const c2 = await back.client();
    const history = (await c2.request({ getHistory: { session: last.session } })).history!;
    expect(history.messages.map((m) => `${m.role}: ${m.content}`)).toEqual(["user: the last question"]);
    c2.close();
  } finally {
    rmSync(ownHome, { recursive: true, force: true });
  }
}, 30_000);
