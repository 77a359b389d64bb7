/**
 * StreamPacer: a collection each time another pace's worth of stream bytes
 * has arrived, never in between, and never more than 1/20 of the time.
 * QuietCollector: one collection once the daemon goes quiet after heavy
 * streaming, never while a turn is queued or running, nothing when idle.
 */
import { describe, expect, test } from "bun:test";
import { QuietCollector, StreamPacer } from "../../src/util/collect.ts";

describe("StreamPacer", () => {
  test("collects once per `everyBytes` received, counting from the last collection", () => {
    let collections = 0;
    const pacer = new StreamPacer(
      1000,
      () => collections++,
      () => 0,
    );
    for (let i = 0; i < 9; i++) pacer.note(100);
    expect(collections).toBe(0);
    pacer.note(100);
    expect(collections).toBe(1);
    pacer.note(999);
    expect(collections).toBe(1);
    pacer.note(1);
    expect(collections).toBe(2);
    // One huge read is one collection, not one per pace it spans.
    pacer.note(50_000);
    expect(collections).toBe(3);
  });

  test("a collection that took 10 ms allows the next only 200 ms later, however many bytes arrive", () => {
    let clock = 0;
    let collections = 0;
    const pacer = new StreamPacer(
      1000,
      () => {
        collections++;
        clock += 10;
      },
      () => clock,
    );
    pacer.note(1000);
    expect(collections).toBe(1);
    clock += 150;
    pacer.note(5000);
    expect(collections).toBe(1);
    clock += 51;
    pacer.note(1);
    expect(collections).toBe(2);
  });
});

/** A QuietCollector on a hand-driven timer: `fire()` runs the pending timer as if its time were up. */
function quiet(afterBytes = 1000) {
  let streamed = 0;
  let collections = 0;
  let pending: { run: () => void; ms: number } | null = null;
  let armed = 0;
  const c = new QuietCollector({
    streamed: () => streamed,
    afterBytes,
    quietMs: 5000,
    collect: () => collections++,
    setTimer: (run, ms) => {
      armed++;
      pending = { run, ms };
      return pending;
    },
    clearTimer: (t) => {
      if (pending === t) pending = null;
    },
  });
  return {
    c,
    stream: (n: number) => (streamed += n),
    fire: () => {
      const p = pending;
      pending = null;
      p?.run();
    },
    get pending() {
      return pending;
    },
    get collections() {
      return collections;
    },
    get armed() {
      return armed;
    },
  };
}

describe("QuietCollector", () => {
  test("turns that streamed less than afterBytes in all schedule nothing", () => {
    const q = quiet();
    q.stream(999);
    q.c.turnEnded(() => false);
    q.c.turnEnded(() => false);
    expect(q.armed).toBe(0);
    expect(q.pending).toBeNull();
  });

  test("after heavy streaming, one collection quietMs after the last turn's end, then none until afterBytes more", () => {
    const q = quiet();
    q.stream(1000);
    q.c.turnEnded(() => false);
    expect(q.pending?.ms).toBe(5000);
    // A second turn ending re-arms: the quiet time counts from the last end, and one collection covers both.
    q.c.turnEnded(() => false);
    expect(q.armed).toBe(2);
    q.fire();
    expect(q.collections).toBe(1);
    expect(q.pending).toBeNull();
    // Quiet again with little streamed since: nothing more.
    q.stream(500);
    q.c.turnEnded(() => false);
    expect(q.pending).toBeNull();
    q.stream(500);
    q.c.turnEnded(() => false);
    q.fire();
    expect(q.collections).toBe(2);
  });

  test("a turn running when the quiet time is up postpones the collection to after its own end", () => {
    const q = quiet();
    let busy = false;
    q.stream(4000);
    q.c.turnEnded(() => busy);
    busy = true;
    q.fire();
    expect(q.collections).toBe(0);
    expect(q.pending).toBeNull();
    // That turn ends: armed again, and now the daemon is quiet.
    busy = false;
    q.c.turnEnded(() => busy);
    q.fire();
    expect(q.collections).toBe(1);
  });
});
