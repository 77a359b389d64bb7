/**
 * A turn's end and the store (Publisher.emitEnd, LiveSession.traceDecided):
 * the end reaches the store in the same batch as the answer, so a turn ends
 * with one write and one fsync instead of two of each; it is published only
 * once written; and it says the turn failed (507) whenever a record of the
 * turn was refused, whether an earlier write failed or the batch holding
 * the end did. In process, over a memory store that records its batches and
 * refuses the ones a test picks.
 */
import { describe, expect, test } from "bun:test";
import type { SessionEvent } from "../../src/session/events.ts";
import { SessionRuntime } from "../../src/session/runtime.ts";
import { UsageLedger } from "../../src/session/usage.ts";
import { MemorySessionStore } from "../../src/store/memory.ts";
import type { NewRecord } from "../../src/store/types.ts";
import { reply } from "../agent/script.ts";
import { drain, settingsFor } from "../helpers/runtime-kit.ts";

/** What a record is, in a word: a message's role, or an event's type. */
const labelOf = (r: NewRecord): string =>
  r.kind === "message" ? r.message.role : r.kind === "event" ? r.event.type : r.kind;

/** A memory store that records each batch it is given and refuses the ones `refuse` picks (before storing any of it). */
class BatchStore extends MemorySessionStore {
  batches: string[][] = [];
  refuse: (labels: string[]) => boolean = () => false;
  /** Batches this picks wait for release() before they are stored. */
  hold: (labels: string[]) => boolean = () => false;
  held: (() => void) | undefined;
  override async append(id: number, records: readonly NewRecord[], onSyncing?: () => void): Promise<void> {
    const labels = records.map(labelOf);
    this.batches.push(labels);
    if (this.hold(labels)) await new Promise<void>((resolve) => (this.held = resolve));
    if (this.refuse(labels)) throw new Error("ENOSPC: no space left on device (test)");
    return super.append(id, records, onSyncing);
  }
}

function startTurn(store: BatchStore) {
  const runtime = new SessionRuntime(
    { store, usage: new UsageLedger(null, undefined) },
    settingsFor({ models: { m: reply({ text: "the answer" }) } }),
  );
  return runtime.startTurn({ agent: "crab", content: "question", sender: "t", approver: { kind: "none" } });
}

async function oneTurn(store: BatchStore): Promise<{ events: SessionEvent[]; id: number }> {
  const t = await startTurn(store);
  const events = await drain(t.events);
  await t.session.settled();
  return { events, id: t.session.id };
}

/** The turn's last event, which must be an end that failed with 507, and its payload. */
function failedEnd(events: SessionEvent[]): {
  end: SessionEvent;
  data: { stopReason: string; errorCode: number; error: string };
} {
  const end = events.at(-1)!;
  const data = end.body.data as { stopReason: string; errorCode: number; error: string };
  expect(data.stopReason).toBe("error");
  expect(data.errorCode).toBe(507);
  return { end, data };
}

/** The end events the store holds for a session, in file order. */
async function storedEnds(store: BatchStore, id: number): Promise<{ seq: number; stopReason: unknown }[]> {
  const ends: { seq: number; stopReason: unknown }[] = [];
  for await (const r of store.readEvents(id, 0)) {
    const e = r.event;
    if (e.type === "end") ends.push({ seq: e.seq, stopReason: (e.data as { stopReason: unknown }).stopReason });
  }
  return ends;
}

describe("a turn's end", () => {
  test("is written in the same batch as the answer it ends, and published after", async () => {
    const store = new BatchStore();
    store.hold = (labels) => labels.includes("end");
    const t = await startTurn(store);
    const events: SessionEvent[] = [];
    const read = (async () => {
      for await (const e of t.events) {
        events.push(e);
        if (e.body.kind === "end") break;
      }
    })();
    while (!store.held) await Bun.sleep(1);
    await Bun.sleep(20);
    // Its batch is not written yet: the clients have the answer's deltas, not the end.
    expect(events.map((e) => e.body.kind)).not.toContain("end");
    store.held();
    await read;
    await t.session.settled();
    const id = t.session.id;
    const end = events.at(-1)!;
    expect(end.body.kind).toBe("end");
    expect((end.body.data as { stopReason: string }).stopReason).toBe("stop");
    // The last batch holds the answer, its deltas and usage, and the end: one write for all of them.
    const last = store.batches.at(-1)!;
    expect(last).toContain("assistant");
    expect(last.at(-1)).toBe("end");
    expect(store.batches.filter((b) => b.includes("end"))).toHaveLength(1);
    expect(await storedEnds(store, id)).toEqual([{ seq: end.seq, stopReason: "stop" }]);
  });

  test("says 507 when the batch holding it is refused, and that end is what the store keeps, under the same seq", async () => {
    const store = new BatchStore();
    store.refuse = (labels) => labels.includes("assistant");
    const { events, id } = await oneTurn(store);
    const { end, data } = failedEnd(events);
    expect(data.error).toContain("could not be saved");
    expect(data.error).toContain("ENOSPC");
    // Exactly one end on disk: the failed one, with the seq clients saw; the refused answer is not there.
    expect(await storedEnds(store, id)).toEqual([{ seq: end.seq, stopReason: "error" }]);
    const loaded = await store.load(id);
    expect(loaded!.allMessages.map((m) => m.role)).toEqual(["user"]);
  });

  test("says 507 from the start when an earlier write of the turn was refused (the question)", async () => {
    const store = new BatchStore();
    store.refuse = (labels) => labels.includes("user");
    const { events, id } = await oneTurn(store);
    const { end } = failedEnd(events);
    // Decided before its batch was written: one end on disk, the failed one, in one batch.
    expect(await storedEnds(store, id)).toEqual([{ seq: end.seq, stopReason: "error" }]);
    expect(store.batches.filter((b) => b.includes("end"))).toHaveLength(1);
  });
});
