/**
 * Record lines for the file store, written without extra copies of a huge
 * text: a 16 MB answer serialized with JSON.stringify is a second 16 MB
 * string, its UTF-8 a third, and a batch joined around it a fourth. Here a
 * record whose text is BIG_TEXT_CHARS or more is serialized as a small
 * skeleton plus its text escaped slice by slice, each piece written on its
 * own; the bytes on disk are exactly JSON.stringify's. The slices are cut
 * where a streamed answer's TextBuilder cut its blocks (pieceEnd), so the
 * answer's rope is read without being flattened into one more copy.
 */
import { pieceEnd } from "../util/text-builder.ts";
import { serialize } from "./fold.ts";
import type { StoredRecord } from "./types.ts";

/** A text this long is never copied whole into a line (below it, one JSON.stringify is cheaper than pieces). */
export const BIG_TEXT_CHARS = 1024 * 1024;
const MARK = "\u0001";

/** Characters of message text a record carries: decides whether it is written in pieces. */
export function textChars(r: StoredRecord): number {
  if (r.kind !== "message") return 0;
  const m = r.message;
  let n = m.content.length;
  if (m.role === "assistant") for (const c of m.toolCalls ?? []) n += c.rawArguments.length;
  return n;
}

/** `serialize(r)`, in pieces whose concatenation is exactly it: strings of BIG_TEXT_CHARS or more are escaped in slices. */
export function* recordPieces(r: StoredRecord): Generator<string> {
  const bigs: string[] = [];
  const nonce = Math.random().toString(36).slice(2);
  const skeleton = JSON.stringify(r, (_key, value: unknown) =>
    typeof value === "string" && value.length >= BIG_TEXT_CHARS
      ? `${MARK}${nonce}:${bigs.push(value) - 1}${MARK}`
      : value,
  );
  if (bigs.length === 0) {
    yield skeleton;
    return;
  }
  // JSON.stringify writes the mark as the six characters \u0001.
  const placeholder = new RegExp(`"\\\\u0001${nonce}:(\\d+)\\\\u0001"`, "g");
  let at = 0;
  for (const m of skeleton.matchAll(placeholder)) {
    yield skeleton.slice(at, m.index);
    yield '"';
    yield* escapedSlices(bigs[Number(m[1])]!);
    yield '"';
    at = m.index + m[0].length;
  }
  yield skeleton.slice(at);
}

/**
 * The JSON escape of `text` without its quotes, in slices of 256 Ki
 * characters (large enough that the writes cost nothing, small enough to be
 * transient); pieceEnd never splits a surrogate pair (each half would be
 * escaped alone).
 */
function* escapedSlices(text: string): Generator<string> {
  for (let at = 0; at < text.length; ) {
    const end = pieceEnd(text, at);
    yield JSON.stringify(text.slice(at, end)).slice(1, -1);
    at = end;
  }
}

/** Whole lines of `records` as write pieces: small lines joined into one, a big record in pieces of its own. */
export function* linePieces(records: readonly StoredRecord[]): Generator<string> {
  let group: string[] = [];
  for (const r of records) {
    if (textChars(r) < BIG_TEXT_CHARS) {
      group.push(serialize(r));
      continue;
    }
    if (group.length > 0) yield `${group.join("\n")}\n`;
    group = [];
    yield* recordPieces(r);
    yield "\n";
  }
  if (group.length > 0) yield `${group.join("\n")}\n`;
}
