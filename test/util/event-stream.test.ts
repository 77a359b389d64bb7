/** EventStream backpressure: a producer awaiting room() pauses at HIGH_WATER and never stalls without a consumer. */
import { describe, expect, test } from "bun:test";
import { EventStream, HIGH_WATER } from "../../src/util/event-stream.ts";

describe("EventStream room()", () => {
  test("a producer pauses at HIGH_WATER while the consumer lags, and every event arrives in order", async () => {
    const s = new EventStream<number>();
    const it = s[Symbol.asyncIterator]();
    let maxBacklog = 0;
    const total = HIGH_WATER * 5;
    const producer = (async () => {
      for (let i = 0; i < total; i++) {
        s.push(i);
        maxBacklog = Math.max(maxBacklog, s.backlog);
        await s.room();
      }
      s.end();
    })();
    const got: number[] = [];
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      got.push(r.value);
      // A slow consumer: a macrotask between events lets the producer run as far as room() allows.
      if (got.length % 64 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await producer;
    expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(maxBacklog).toBeLessThanOrEqual(HIGH_WATER);
  });

  test("without a consumer iterating, room() never waits (a caller that only awaits result())", async () => {
    const s = new EventStream<number, string>();
    for (let i = 0; i < HIGH_WATER * 2; i++) {
      s.push(i);
      await s.room();
    }
    s.end("done");
    expect(await s.result()).toBe("done");
  });

  test("a consumer that leaves (return) releases a waiting producer", async () => {
    const s = new EventStream<number>();
    const it = s[Symbol.asyncIterator]();
    for (let i = 0; i < HIGH_WATER; i++) s.push(i);
    let released = false;
    const waiting = s.room().then(() => (released = true));
    expect(released).toBe(false);
    await it.return?.();
    await waiting;
    expect(released).toBe(true);
  });
});
