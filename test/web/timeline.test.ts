/** The timeline model: spans from a trace's events, placed by real start and duration, deduplicated by seq, nested by delegation. */
import { expect, test } from "bun:test";
import type { StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { rowsExtent, TimelineBuilder, timelineRows } from "../../src/web/timeline.ts";

const USAGE = { promptTokens: 10, completionTokens: 7, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };

function ev(seq: number, ts: number, event: string, data: object): StreamEvent {
  return { event, [event]: data, seq, session: 1, timestampMs: ts } as unknown as StreamEvent;
}

/** The trace of `run echo hi` (a tool call between two model calls), as the daemon stored it. */
const TURN: StreamEvent[] = [
  ev(1, 1000, "start", { agent: "crab", session: 1, sender: "cli" }),
  ev(2, 1010, "modelEnd", { model: "gpt-4o-mini", usage: USAGE, stopReason: "tool_calls" }),
  ev(3, 1010, "toolStart", { calls: [{ id: "call_0", name: "bash", arguments: '{"command":"echo hi"}' }] }),
  ev(4, 1019, "toolResult", {
    callId: "call_0",
    output: "hi",
    durationMs: 9,
    isError: false,
    name: "bash",
    details: "",
  }),
  ev(5, 1019, "toolsComplete", {}),
  ev(6, 1022, "chunk", { content: "ran it" }),
  ev(7, 1022, "modelEnd", { model: "gpt-4o-mini", usage: { ...USAGE, promptTokens: 30 }, stopReason: "stop" }),
  ev(8, 1024, "end", { agent: "crab", model: "gpt-4o-mini", usage: USAGE, stopReason: "stop" }),
];

test("one span per model call and tool call, with real start, duration and tokens", () => {
  const b = new TimelineBuilder();
  for (const e of TURN) b.add(e);
  expect(b.spans.map((s) => [s.kind, s.label, s.startMs, s.durationMs, s.running])).toEqual([
    ["model", "gpt-4o-mini", 1000, 10, false],
    ["tool", "bash", 1010, 9, false],
    ["model", "gpt-4o-mini", 1019, 3, false],
  ]);
  expect(b.spans[0]!.usage?.completionTokens).toBe(7);
  expect(b.spans[2]!.usage?.promptTokens).toBe(30);
  expect(b.spans[1]!.output).toBe("hi");
});

test("replayed and live copies of an event are folded once (dedupe by seq)", () => {
  const b = new TimelineBuilder();
  for (const e of TURN.slice(0, 5)) b.add(e);
  // A reconnect replays from an older seq: everything already seen is ignored.
  const added = TURN.map((e) => b.add(e));
  expect(added).toEqual([false, false, false, false, false, true, true, true]);
  expect(b.spans.length).toBe(3);
  expect(b.seq).toBe(8);
});

test("a running turn's spans stay open; a session found idle closes them as cut off", () => {
  const b = new TimelineBuilder();
  for (const e of TURN.slice(0, 3)) b.add(e);
  expect(b.spans.map((s) => s.running)).toEqual([false, true]);
  b.settleIdle(1500);
  expect(b.spans[1]).toMatchObject({ running: false, error: true, durationMs: 490 });
});

test("a turn that fails without a modelEnd closes its model call at the end, as failed", () => {
  const b = new TimelineBuilder();
  b.add(ev(1, 0, "start", {}));
  b.add(ev(2, 50, "end", { stopReason: "error", error: "502" }));
  expect(b.spans).toMatchObject([{ kind: "model", durationMs: 50, error: true, running: false }]);
});

test("delegated tasks' spans nest under their delegate call", () => {
  const parent = new TimelineBuilder();
  parent.add(ev(1, 0, "start", {}));
  parent.add(ev(2, 5, "modelEnd", { model: "m", usage: USAGE, stopReason: "tool_calls" }));
  parent.add(ev(3, 5, "toolStart", { calls: [{ id: "d1", name: "delegate", arguments: "{}" }] }));
  const details = JSON.stringify({ tasks: [{ id: 1, session: 7, agent: "helper" }] });
  parent.add(
    ev(4, 100, "toolResult", {
      callId: "d1",
      output: "done",
      durationMs: 95,
      isError: false,
      name: "delegate",
      details,
    }),
  );
  const child = new TimelineBuilder();
  child.add(ev(1, 10, "start", {}));
  child.add(ev(2, 90, "modelEnd", { model: "m", usage: USAGE, stopReason: "stop" }));
  const rows = timelineRows(1, parent.spans, (s) => (s === 7 ? child.spans : undefined), 200);
  expect(rows.map((r) => [r.span.label, r.depth, r.session])).toEqual([
    ["m", 0, 1],
    ["delegate", 0, 1],
    ["m", 1, 7],
  ]);
  expect(rows.map((r) => r.range)).toEqual([
    { start: 0, end: 100 },
    { start: 0, end: 100 },
    { start: 0, end: 100 },
  ]);
  expect(rowsExtent(rows, 200)).toEqual({ start: 0, end: 100 });
});

test("each turn's bars are scaled to that turn, so idle time between turns squeezes nothing", () => {
  const b = new TimelineBuilder();
  for (const e of TURN) b.add(e);
  const later = TURN.map((e) => ({ ...e, seq: e.seq + 8, timestampMs: e.timestampMs + 3_600_000 }));
  for (const e of later) b.add(e);
  const rows = timelineRows(1, b.spans, () => undefined, 0);
  expect(rows.map((r) => r.turnFirst)).toEqual([true, false, false, true, false, false]);
  expect(rows[0]!.range).toEqual({ start: 1000, end: 1022 });
  expect(rows[3]!.range).toEqual({ start: 3_601_000, end: 3_601_022 });
});

test("a window starting mid-turn skips to the first whole turn", () => {
  const b = new TimelineBuilder({ fromTurnStart: true });
  for (const e of TURN.slice(2)) b.add(e);
  expect(b.spans).toEqual([]);
  for (const e of TURN.map((e) => ({ ...e, seq: e.seq + 8 }))) b.add(e);
  expect(b.spans.map((s) => s.kind)).toEqual(["model", "tool", "model"]);
});
