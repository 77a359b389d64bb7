/** StreamPacer: a collection each time another pace's worth of stream bytes has arrived, never in between. */
import { describe, expect, test } from "bun:test";
import { StreamPacer } from "../../src/util/collect.ts";

describe("StreamPacer", () => {
  test("collects once per `everyBytes` received, counting from the last collection", () => {
    let collections = 0;
    const pacer = new StreamPacer(1000, () => collections++);
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
});
