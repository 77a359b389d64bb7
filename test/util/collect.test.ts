/** StreamPacer: a collection each time another pace's worth of stream bytes has arrived, never in between, and never more than 1/20 of the time. */
import { describe, expect, test } from "bun:test";
import { StreamPacer } from "../../src/util/collect.ts";

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
