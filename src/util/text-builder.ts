/**
 * Accumulates streamed text (a model's answer, delta by delta) without
 * holding one string object per delta.
 *
 * `text += delta` in JavaScriptCore builds a rope: every delta stays a
 * separate string cell, plus a rope node per append, until something reads
 * the whole. For a 16 MB answer in 128-character deltas that is ~130,000
 * cells and about twice the text's size held for the whole stream (and a
 * third copy when the rope is finally flattened). Here deltas gather in a
 * small list that is joined into one flat block every BLOCK_CHARS, so what
 * is held stays close to the text itself.
 *
 * `toString()` does not copy: it concatenates the blocks with `+`, which
 * JavaScriptCore keeps as a rope of a few hundred 64 KiB pieces until
 * someone reads the characters (serializing the message for the store,
 * encoding it for a client). Flattening then happens once, where the
 * reader is, instead of a second 16 MB copy existing beside the blocks
 * the moment the answer ends.
 */

/** 64 Ki characters per block: a 16 MB answer is 256 flat strings; a short answer never leaves the first list. */
const BLOCK_CHARS = 64 * 1024;

export class TextBuilder {
  private blocks: string[] = [];
  private pending: string[] = [];
  private pendingChars = 0;
  private total = 0;
  private joined: string | null = "";

  get length(): number {
    return this.total;
  }

  append(text: string): void {
    if (text.length === 0) return;
    this.pending.push(text);
    this.pendingChars += text.length;
    this.total += text.length;
    this.joined = null;
    if (this.pendingChars >= BLOCK_CHARS) this.seal();
  }

  private seal(): void {
    if (this.pending.length === 0) return;
    this.blocks.push(this.pending.join(""));
    this.pending = [];
    this.pendingChars = 0;
  }

  /** The whole text (cached until the next append). */
  toString(): string {
    if (this.joined !== null) return this.joined;
    this.seal();
    const whole = concat(this.blocks, 0, this.blocks.length);
    this.blocks = whole.length > 0 ? [whole] : [];
    this.joined = whole;
    return whole;
  }
}

/** blocks[from, to) joined by `+`, pairwise, so the rope stays shallow (depth log2 of the count). */
function concat(blocks: readonly string[], from: number, to: number): string {
  if (to - from === 0) return "";
  if (to - from === 1) return blocks[from]!;
  const mid = (from + to) >>> 1;
  return concat(blocks, from, mid) + concat(blocks, mid, to);
}
