/** TextBuilder: streamed text accumulated in blocks reads back exactly, whatever the delta sizes, and is sliced by pieceEnd without a flat copy. */
import { describe, expect, test } from "bun:test";
import { isRope } from "bun:jsc";
import { BLOCK_CHARS, pieceEnd, TextBuilder } from "../../src/util/text-builder.ts";

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

  test("a 16 MB answer: pieces cut by pieceEnd lie within its blocks, so slicing them all leaves it a rope", () => {
    const b = new TextBuilder();
    // A surrogate pair straddling the first block edge: that block ends one character early.
    b.append("x".repeat(BLOCK_CHARS - 1));
    b.append("😀");
    const delta = `${"y".repeat(127)}é`;
    for (let i = 0; i < (16 * 1024 * 1024) / 128; i++) b.append(delta);
    const text = b.toString();
    expect(pieceEnd(text, 0)).toBe(BLOCK_CHARS - 1);
    const pieces: string[] = [];
    for (let at = 0; at < text.length; ) {
      const end = pieceEnd(text, at);
      pieces.push(text.slice(at, end));
      at = end;
    }
    expect(isRope(text)).toBe(true);
    expect(pieces.length).toBeGreaterThan(64);
    expect(pieces.join("")).toBe(text);
    expect(text.slice(BLOCK_CHARS - 1, BLOCK_CHARS + 1)).toBe("😀");
  });
});
