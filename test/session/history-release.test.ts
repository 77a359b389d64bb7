/**
 * Idle live sessions release their history (it is on disk) and read it
 * back when work needs it: the next turn and a compaction see every
 * earlier message, attach after a seq replays without a gap, approvals
 * still reach their client. Budget 0: every history is released as its
 * turn ends, so each test runs on a released session.
 */
import { describe, expect, test } from "bun:test";
import type { ModelRequest, StreamFn } from "../../src/provider/types.ts";
import { isKind } from "../../src/session/events.ts";
import { call, reply, scripted, tool } from "../agent/script.ts";
import { drain, makeRuntime } from "../helpers/runtime-kit.ts";

const SOURCE = { kind: "test" as const, name: "kit" };

function recording(text: (n: number) => string): { stream: StreamFn; requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  const stream: StreamFn = (request, signal) => {
    requests.push(structuredClone(request));
    return reply({ text: text(requests.length) })(request, signal);
  };
  return { stream, requests };
}

async function turn(runtime: ReturnType<typeof makeRuntime>["runtime"], content: string, session?: number) {
  const t = await runtime.startTurn({
    agent: session ? "" : "crab",
    content,
    session,
    sender: "t",
    approver: { kind: "none" },
  });
  const events = await drain(t.events);
  // The history is released in the turn's finally, a few microtasks after its queue settles: one macrotask covers them.
  await t.session.settled();
  await new Promise<void>((resolve) => setImmediate(resolve));
  return { session: t.session, events };
}

describe("released histories", () => {
  test("the next turn reads the released history back: the model sees every earlier message", async () => {
    const m = recording((n) => `answer ${n}`);
    const { runtime } = makeRuntime({ models: { m: m.stream }, idleHistoryChars: 0 });
    const first = await turn(runtime, "one");
    expect(first.session.historyLoaded).toBe(false);
    expect(runtime.isLive(first.session.id).live).toBe(true);
    await turn(runtime, "two", first.session.id);
    await turn(runtime, "three", first.session.id);
    expect(m.requests[2]!.messages.map((x) => x.content)).toEqual(["one", "answer 1", "two", "answer 2", "three"]);
    expect(first.session.historyLoaded).toBe(false);
  });

  test("a budget keeps small idle histories in memory and releases the least recently used past it", async () => {
    const m = recording(() => "x".repeat(100));
    const { runtime } = makeRuntime({ models: { m: m.stream }, idleHistoryChars: 250 });
    const a = await turn(runtime, "a");
    expect(a.session.historyLoaded).toBe(true);
    const b = await turn(runtime, "b");
    // a (101 chars) and b (101) fit in 250; a third session makes 303: a, the oldest, goes.
    const c = await turn(runtime, "c");
    expect([a, b, c].map((t) => t.session.historyLoaded)).toEqual([false, true, true]);
  });

  test("compaction of a released session summarizes the whole history", async () => {
    const requests: ModelRequest[] = [];
    const stream: StreamFn = (request, signal) => {
      requests.push(structuredClone(request));
      return reply({ text: requests.length <= 2 ? `answer ${requests.length}` : "the summary" })(request, signal);
    };
    const { runtime } = makeRuntime({ models: { m: stream }, idleHistoryChars: 0 });
    const first = await turn(runtime, "one");
    await turn(runtime, "two", first.session.id);
    expect(first.session.historyLoaded).toBe(false);
    const result = await runtime.compact(first.session.id);
    expect(result.tokensAfter).toBeGreaterThan(0);
    const summarized = JSON.stringify(requests[2]!.messages);
    for (const text of ["one", "answer 1", "two", "answer 2"]) expect(summarized).toContain(text);
    // The next turn starts from the summary, read back from the store.
    const m = recording(() => "after");
    runtime.reconfigure({ ...runtime.settings, streamFor: () => m.stream });
    await turn(runtime, "three", first.session.id);
    expect(JSON.stringify(m.requests[0]!.messages)).toContain("the summary");
    expect(JSON.stringify(m.requests[0]!.messages)).not.toContain("answer 1");
  });

  test("attach after a seq on a released session replays the trace then goes live, no gap and no duplicate", async () => {
    const m = recording((n) => `answer ${n}`);
    const { runtime } = makeRuntime({ models: { m: m.stream }, idleHistoryChars: 0 });
    const first = await turn(runtime, "one");
    const attachment = await runtime.attach(first.session.id, 2);
    expect(attachment.header.lastSeq).toBe(first.events.at(-1)!.seq);
    const second = await turn(runtime, "two", first.session.id);
    const seen: number[] = [];
    for await (const e of attachment.events) {
      seen.push(e.seq);
      if (e.seq === second.events.at(-1)!.seq) break;
    }
    attachment.close();
    expect(seen).toEqual(Array.from({ length: second.events.at(-1)!.seq - 2 }, (_, i) => 3 + i));
  });

  test("an approval on a released session reaches its requester and the approved call runs", async () => {
    const s = scripted([reply({ text: "first" }), reply({ calls: [call("c1", "danger", {})] }), reply({ text: "ok" })]);
    const { runtime } = makeRuntime({
      models: { m: s.stream },
      permissions: { global: { danger: "ask" }, agents: {} },
      idleHistoryChars: 0,
    });
    let ran = 0;
    runtime.registry.setSource(SOURCE, [
      tool("danger", async () => {
        ran++;
        return { output: "ran" };
      }),
    ]);
    const first = await turn(runtime, "one");
    expect(first.session.historyLoaded).toBe(false);
    const t = await runtime.startTurn({
      agent: "",
      content: "do it",
      session: first.session.id,
      sender: "t",
      approver: { kind: "requester" },
    });
    const seen: string[] = [];
    for await (const e of t.events) {
      seen.push(e.body.kind);
      if (isKind(e, "approval")) runtime.approve(t.session.id, e.body.data.callId, true);
      if (isKind(e, "end")) break;
    }
    expect(seen).toContain("approval");
    expect(ran).toBe(1);
    expect(s.requests[1]!.messages.map((x) => x.content)).toEqual(["one", "first", "do it"]);
  });
});
