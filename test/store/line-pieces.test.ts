/** Record lines written in pieces: the pieces of a record with a huge text join to exactly JSON.stringify's line. */
import { describe, expect, test } from "bun:test";
import { isRope } from "bun:jsc";
import { TextBuilder } from "../../src/util/text-builder.ts";
import { serialize } from "../../src/store/fold.ts";
import { BIG_TEXT_CHARS, linePieces, recordPieces } from "../../src/store/line-pieces.ts";
import type { StoredRecord } from "../../src/store/types.ts";

/** A text over the threshold with everything JSON escapes, and surrogate pairs at every offset around the 256 Ki slice edges. */
function awkwardText(): string {
  const parts: string[] = [];
  let n = 0;
  while (n < BIG_TEXT_CHARS + 300_000) {
    const piece = `"quoted" \\ back\nline\ttab \u0001 ctrl ${"é".repeat(n % 5)}😀${"x".repeat(97)}`;
    parts.push(piece);
    n += piece.length;
  }
  // A lone surrogate too: JSON.stringify escapes it, and so must the slices.
  parts.push("\ud800 lone");
  return parts.join("");
}

describe("recordPieces", () => {
  test("a message with a huge awkward text: pieces join to exactly serialize(record), none of them huge", () => {
    const text = awkwardText();
    const r: StoredRecord = {
      ts: 1,
      kind: "message",
      message: {
        role: "assistant",
        content: text,
        model: "m",
        toolCalls: [{ id: "c1", name: "t", rawArguments: text, arguments: {} }],
      },
    };
    const pieces = [...recordPieces(r)];
    expect(pieces.join("")).toBe(serialize(r));
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(BIG_TEXT_CHARS);
  });

  test("an answer streamed through a TextBuilder is written in pieces without flattening its rope", () => {
    const b = new TextBuilder();
    const deltas: string[] = [];
    // 6 MB of awkward deltas (quotes, controls, surrogate pairs landing on block edges), then a lone surrogate.
    for (let n = 0; n < 6_000_000; ) {
      const d = `"q" \\ \n\u0001 ${"é".repeat(n % 3)}😀${"x".repeat(90 + (n % 7))}`;
      deltas.push(d);
      b.append(d);
      n += d.length;
    }
    b.append("\ud800 lone");
    const content = b.toString();
    expect(isRope(content)).toBe(true);
    const r: StoredRecord = { ts: 4, kind: "message", message: { role: "assistant", content, model: "m" } };
    const pieces = [...recordPieces(r)];
    // Still a rope after every slice was escaped: no flat 6 MB copy was made beside the blocks.
    expect(isRope(content)).toBe(true);
    expect(pieces.join("")).toBe(serialize(r));
    expect(content).toBe(`${deltas.join("")}\ud800 lone`);
  });

  test("a text that spells the placeholder is written as itself", () => {
    const text = `\u00010:0\u0001 ${"y".repeat(BIG_TEXT_CHARS)}`;
    const r: StoredRecord = { ts: 2, kind: "message", message: { role: "user", content: text } };
    expect([...recordPieces(r)].join("")).toBe(serialize(r));
  });

  test("linePieces: small records joined in one piece, a big one in its own pieces, every line whole and in order", () => {
    const big = "z".repeat(BIG_TEXT_CHARS + 5);
    const records: StoredRecord[] = [
      { ts: 1, kind: "message", message: { role: "user", content: "a" } },
      { ts: 2, kind: "message", message: { role: "assistant", content: big } },
      { ts: 3, kind: "message", message: { role: "user", content: "b" } },
    ];
    const pieces = [...linePieces(records)];
    expect(pieces[0]).toBe(`${serialize(records[0]!)}\n`);
    expect(pieces.join("")).toBe(`${records.map(serialize).join("\n")}\n`);
  });
});
