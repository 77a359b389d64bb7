/** TextBuilder: streamed text accumulated in blocks reads back exactly, whatever the delta sizes. */
import { describe, expect, test } from "bun:test";
import { TextBuilder } from "../../src/util/text-builder.ts";

describe("TextBuilder", () => {
  test("empty, then one delta, reads back as given", () => {
    const b = new TextBuilder();
    expect(b.toString()).toBe("");
    expect(b.length).toBe(0);
    b.append("");
    b.append("héllo ✓");
    expect(b.toString()).toBe("héllo ✓");
    expect(b.length).toBe("héllo ✓".length);
  });

  test("200,000 deltas across many blocks are joined exactly, in order", () => {
    const b = new TextBuilder();
    const parts: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      const d = `#${i}:${"x".repeat(i % 7)}é`;
      parts.push(d);
      b.append(d);
    }
    const want = parts.join("");
    expect(b.length).toBe(want.length);
    expect(b.toString()).toBe(want);
    // Reading twice gives the same text; appending after a read extends it.
    expect(b.toString()).toBe(want);
    b.append("tail");
    expect(b.toString()).toBe(`${want}tail`);
  });

  test("one delta larger than a block is kept whole", () => {
    const b = new TextBuilder();
    const big = "y".repeat(300_000);
    b.append("a");
    b.append(big);
    b.append("z");
    expect(b.toString()).toBe(`a${big}z`);
  });
});
