/**
 * StreamPacer: a collection each time another pace's worth of stream bytes
 * has arrived, never in between, and never more than 1/20 of the time.
 * QuietCollector: one collection once the daemon goes quiet after heavy
 * streaming, never while a turn is queued or running, nothing when idle.
 */
import { describe, expect, test } from "bun:test";
import { collectYoung, QuietCollector, StreamCollections, StreamPacer } from "../../src/util/collect.ts";

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

describe("StreamCollections", () => {
  function paced() {
    const log: string[] = [];
    let clock = 0;
    const c = new StreamCollections(
      new StreamPacer(
        4000,
        () => log.push(`full@${clock}`),
        () => clock,
      ),
      new StreamPacer(
        1000,
        () => log.push(`young@${clock}`),
        () => clock,
      ),
    );
    return {
      c,
      log,
      feed: (n: number, each = 100) => {
        for (let i = 0; i < n; i += each) {
          clock += each;
          c.note(each);
        }
      },
    };
  }

  test("young collections every young pace between full ones, never one beside a full one", () => {
    const { c, log, feed } = paced();
    feed(8000);
    expect(log).toEqual([
      "young@1000",
      "young@2000",
      "young@3000",
      "full@4000",
      "young@5000",
      "young@6000",
      "young@7000",
      "full@8000",
    ]);
    expect(c.total).toBe(8000);
  });

  test("the young count restarts at a full collection", () => {
    const { log, feed } = paced();
    feed(3500);
    feed(500);
    // 4000: full; the 500 bytes since the young collection at 3000 do not carry over.
    feed(900);
    expect(log).toEqual(["young@1000", "young@2000", "young@3000", "full@4000"]);
    feed(100);
    expect(log.at(-1)).toBe("young@5000");
  });

  test("this Bun has the young collection collectYoung calls, and it runs", () => {
    // Without edenGC the pacing silently loses its young half (collectYoung does nothing): this says so.
    expect(typeof (require("bun:jsc") as { edenGC?: unknown }).edenGC).toBe("function");
    const kept = Array.from({ length: 1000 }, (_, i) => ({ i }));
    collectYoung();
    expect(kept[999]!.i).toBe(999);
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
