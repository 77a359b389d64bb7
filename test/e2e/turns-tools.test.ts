/**
 * Issue 4 acceptance, tool calls through the compiled daemon: two calls of
 * one response really run at once and their results reach the model in
 * call order; the event shapes (ToolStart, ToolResult, StreamEnd); grants
 * enforced at dispatch; a bad argument is an error result the turn
 * survives; bash output over the cap; a timeout that kills a process tree;
 * cancel in the middle of a sleep kills it and the session goes on.
 *
 * The model is the fake provider playing scripted Chat Completions streams.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import {
  endOf,
  kinds,
  pidAlive,
  sessionOf,
  streamTurn,
  textOf,
  toolResultsOf,
  turnConfig,
  waitFor,
} from "../helpers/turn-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let work: string;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({
    config: `${turnConfig(fake.url, "", "")}\n[agents.reader]\nmodel = "fake-model"\ntools = ["read"]\n`,
  });
  work = join(d.home, "work");
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

describe("concurrent tool calls", () => {
  test("two calls that each wait for the other both finish; results reach the model in call order; event shapes", async () => {
    // Each call writes its marker and waits (at most 10 s) for the other's: run one after the other, the first would time out.
    // Each first sleeps 0.3 s, so the duration the daemon reports has a known floor.
    const meet = (mine: string, other: string, out: string) =>
      `sleep 0.3; touch ${mine}; i=0; while [ ! -e ${other} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; [ -e ${other} ] && echo ${out} || { echo "${other} never appeared"; exit 3; }`;
    const calls = [
      { id: "call_a", name: "bash", args: { command: meet("a.marker", "b.marker", "A-saw-B") } },
      { id: "call_b", name: "bash", args: { command: meet("b.marker", "a.marker", "B-saw-A") } },
    ];
    fake.enqueue(
      reply({ toolCalls: calls, usage: { prompt: 100, completion: 20 } }),
      reply({ text: "both done", usage: { prompt: 150, completion: 7 } }),
    );
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { content: "run both" });
    c.close();

    expect(kinds(events)).toEqual([
      "start",
      "modelEnd",
      "toolStart",
      "toolResult",
      "toolResult",
      "toolsComplete",
      "chunk",
      "chunk",
      "chunk",
      "modelEnd",
      "end",
    ]);
    const seqs = events.map((e) => Number(e.seq));
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);

    const start = events.find((e) => e.toolStart)!.toolStart!;
    expect(start.calls.map((x) => [x.id, x.name])).toEqual([
      ["call_a", "bash"],
      ["call_b", "bash"],
    ]);
    expect(JSON.parse(start.calls[0]!.arguments)).toEqual(calls[0]!.args);

    const results = events.filter((e) => e.toolResult).map((e) => e.toolResult!);
    // The trace on disk records the same durations the client was sent.
    const traced = new Map<string, number>();
    for (const line of readFileSync(join(d.home, "sessions", `${sessionOf(events)}.jsonl`), "utf8").split("\n")) {
      if (!line) continue;
      const record = JSON.parse(line) as { event?: { type: string; data?: { callId?: string; durationMs?: number } } };
      if (record.event?.type === "toolResult") traced.set(record.event.data!.callId!, record.event.data!.durationMs!);
    }
    for (const r of results) {
      expect(r.isError).toBe(false);
      expect(r.name).toBe("bash");
      // At least the 0.3 s sleep; far below the 10 s either call would take if they ran one after the other.
      expect(Number(r.durationMs)).toBeGreaterThanOrEqual(300);
      expect(Number(r.durationMs)).toBeLessThan(5_000);
      expect(traced.get(r.callId)).toBe(Number(r.durationMs));
    }
    expect(results.map((r) => r.callId).sort()).toEqual(["call_a", "call_b"]);
    expect(results.find((r) => r.callId === "call_a")!.output).toContain("A-saw-B");
    expect(results.find((r) => r.callId === "call_b")!.output).toContain("B-saw-A");

    // The follow-up request carries the results in call order, whatever order they finished in.
    const next = fake.requests[before + 1]!;
    const sent = toolResultsOf(next);
    expect(sent.map((r) => r.id)).toEqual(["call_a", "call_b"]);
    expect(sent[0]!.text).toContain("A-saw-B");
    expect(sent[1]!.text).toContain("B-saw-A");

    const end = endOf(events);
    expect(end.model).toBe("fake-model");
    expect(end.stopReason).toBe("stop");
    expect(Number(end.usage!.promptTokens)).toBe(250);
    expect(Number(end.usage!.completionTokens)).toBe(27);
    expect(textOf(events)).toBe("both done");
  });
});

describe("grants and arguments", () => {
  test("a tool the agent was not granted is refused at dispatch, the model reads why, the turn goes on", async () => {
    fake.enqueue(
      reply({ toolCalls: [{ id: "call_x", name: "bash", args: { command: "touch should-not-exist" } }] }),
      reply({ text: "understood" }),
    );
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { agent: "reader", content: "try bash" });
    c.close();
    const result = events.find((e) => e.toolResult)!.toolResult!;
    expect(result.isError).toBe(true);
    expect(result.output).toContain("tool bash is not granted to agent reader");
    expect(toolResultsOf(fake.requests[before + 1]!)[0]!.text).toContain("tool bash is not granted to agent reader");
    // The agent is only shown what it was granted.
    const tools = (fake.requests[before]!.body as { tools?: { function: { name: string } }[] }).tools ?? [];
    expect(tools.map((t) => t.function.name)).toEqual(["read"]);
    expect(existsSync(join(d.home, "work", "should-not-exist"))).toBe(false);
    expect(endOf(events).stopReason).toBe("stop");
    expect(textOf(events)).toBe("understood");
  });

  test("a bad argument is an error result the model can fix; the next call in the turn runs", async () => {
    fake.enqueue(
      reply({ toolCalls: [{ id: "call_bad", name: "bash", args: { cmd: "echo hi" } }] }),
      reply({ toolCalls: [{ id: "call_good", name: "bash", args: { command: "echo fixed" } }] }),
      reply({ text: "ok" }),
    );
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { content: "go" });
    c.close();
    const results = events.filter((e) => e.toolResult).map((e) => e.toolResult!);
    expect(results[0]!.isError).toBe(true);
    expect(results[0]!.output).toContain("invalid arguments for bash");
    expect(results[0]!.output).toContain("command");
    expect(results[1]!.isError).toBe(false);
    expect(results[1]!.output).toContain("fixed");
    expect(toolResultsOf(fake.requests[before + 1]!).at(-1)!.text).toContain("invalid arguments for bash");
    expect(endOf(events).stopReason).toBe("stop");
  });
});

describe("bash limits", () => {
  test("output over the 30 KB cap keeps head and tail with a note of what was cut", async () => {
    // 100,000 bytes: a line "HEAD", filler, a line "TAIL".
    const command = `echo HEAD; head -c 99990 /dev/zero | tr '\\0' x; echo; echo TAIL`;
    fake.enqueue(reply({ toolCalls: [{ id: "call_big", name: "bash", args: { command } }] }), reply({ text: "seen" }));
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { content: "big output" });
    c.close();
    const out = events.find((e) => e.toolResult)!.toolResult!.output;
    expect(out.startsWith("HEAD\n")).toBe(true);
    expect(out).toContain("TAIL\n[exit code 0]");
    expect(out).toMatch(/\[\.\.\. \d+ characters cut from the middle of 100\d\d\d; redirect the output to a file/);
    expect(out.length).toBeLessThan(31 * 1024 + 300);
    expect(out.length).toBeGreaterThan(29 * 1024);
    expect(toolResultsOf(fake.requests[before + 1]!)[0]!.text).toBe(out);
  });

  test("a timeout kills the whole process tree, not just the shell", async () => {
    // The shell starts a background grandchild and waits; timeout 1 s.
    const command = `sleep 60 & echo $! > grandchild.pid; echo $$ > shell.pid; wait`;
    fake.enqueue(
      reply({ toolCalls: [{ id: "call_t", name: "bash", args: { command, timeout: 1 } }] }),
      reply({ text: "timed out" }),
    );
    const c = await d.client();
    const t0 = Date.now();
    const events = await streamTurn(c, { content: "slow" });
    c.close();
    expect(Date.now() - t0).toBeLessThan(15_000);
    const result = events.find((e) => e.toolResult)!.toolResult!;
    expect(result.isError).toBe(true);
    expect(result.output).toContain("timed out after 1 s");
    const grandchild = Number(readFileSync(join(work, "grandchild.pid"), "utf8"));
    const shell = Number(readFileSync(join(work, "shell.pid"), "utf8"));
    await waitFor(() => !pidAlive(grandchild) && !pidAlive(shell), 5000, "the timed-out tree to die");
  });
});

describe("cancel", () => {
  test("CancelMsg during `sleep 30` kills it, the turn ends aborted, the next turn on the session works", async () => {
    fake.enqueue(
      reply({ toolCalls: [{ id: "call_s", name: "bash", args: { command: "echo $$ > sleeper.pid; exec sleep 30" } }] }),
    );
    const c = await d.client();
    const events: Awaited<ReturnType<typeof streamTurn>> = [];
    const pidFile = join(work, "sleeper.pid");
    const running = (async () => {
      for await (const r of c.stream({ stream: { agent: "crab", content: "sleep please" } }))
        if (r.stream) events.push(r.stream);
    })();
    await waitFor(
      () => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "",
      10_000,
      "the sleep to start",
    );
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(pidAlive(pid)).toBe(true);
    const session = sessionOf(events);
    const t0 = Date.now();
    const ack = await c.request({ cancel: { session } });
    expect(ack.ack!.message).toContain("cancelling");
    await running;
    expect(Date.now() - t0).toBeLessThan(5000);
    const end = endOf(events);
    expect(end.stopReason).toBe("aborted");
    const result = events.find((e) => e.toolResult)?.toolResult;
    expect(result?.isError).toBe(true);
    await waitFor(() => !pidAlive(pid), 5000, `sleep pid ${pid} to be gone`);

    // Next turn on the same session: the history the model gets is valid (the call has its "cancelled" result).
    fake.enqueue(reply({ text: "awake again" }));
    const before = fake.requests.length;
    const next = await streamTurn(c, { content: "still there?", session });
    c.close();
    expect(endOf(next).stopReason).toBe("stop");
    expect(textOf(next)).toBe("awake again");
    const sent = toolResultsOf(fake.requests[before]!);
    expect(sent.map((r) => r.id)).toEqual(["call_s"]);
    expect(sent[0]!.text).toContain("cancelled");
  });
});
