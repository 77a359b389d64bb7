/** Record lines written in pieces: the pieces of a record with a huge text join to exactly JSON.stringify's line. */
import { describe, expect, test } from "bun:test";
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
