/**
 * Accumulates streamed text (a model's answer, delta by delta) without
 * holding one string object per delta.
 *
 * `text += delta` in JavaScriptCore builds a rope: every delta stays a
 * separate string cell, plus a rope node per append, until something reads
 * the whole. For a 16 MB answer in 128-character deltas that is ~130,000
 * cells and about twice the text's size held for the whole stream (and a
 * third copy when the rope is finally flattened). Here deltas gather in a
 * small list that is cut into flat blocks of BLOCK_CHARS (see pieceEnd), so
 * what is held stays close to the text itself.
 *
 * `toString()` does not copy: it concatenates the blocks with `+`, which
 * JavaScriptCore keeps as a rope of the blocks. Reading a character of a
 * rope flattens it (a second copy of the text, and the blocks become
 * garbage), but a slice that lies within one block does not: the file store
 * writes a big text in slices cut by the same pieceEnd, so a 16 MB answer
 * goes to disk without ever existing as one flat string (up to 64 MiB: a
 * rope deeper than 8 levels is flattened by any slice, see concat).
 */

/** 256 Ki characters per block: a 16 MB answer is 64 flat strings; a short answer never leaves the first list. */
export const BLOCK_CHARS = 256 * 1024;

/**
 * Where the piece of `text` starting at `at` ends: BLOCK_CHARS on, one
 * less when that would split a surrogate pair, clipped to the text. It
 * reads one character, through a one-character slice, so a TextBuilder's
 * rope is never flattened by it. TextBuilder cuts its blocks with it from
 * offset 0, so pieces cut from its text with it each lie within one block.
 */
export function pieceEnd(text: string, at: number): number {
  const end = at + BLOCK_CHARS;
  if (end >= text.length) return text.length;
  const last = text.slice(end - 1, end).charCodeAt(0);
  return last >= 0xd800 && last <= 0xdbff ? end - 1 : end;
}

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
    if (this.pendingChars > BLOCK_CHARS) this.cut();
  }

  /** Moves every whole block out of the pending list; the rest (never more than a block) stays pending. */
  private cut(): void {
    const text = this.pending.join("");
    let at = 0;
    // Strictly more than a block left: the character after a block's end is known, as pieceEnd needs.
    while (text.length - at > BLOCK_CHARS) {
      const end = pieceEnd(text, at);
      this.blocks.push(text.slice(at, end));
      at = end;
    }
    this.pending = at < text.length ? [text.slice(at)] : [];
    this.pendingChars = text.length - at;
  }

  /** The whole text (cached until the next append). */
  toString(): string {
    if (this.joined !== null) return this.joined;
    if (this.pending.length > 0) this.blocks.push(this.pending.join(""));
    this.pending = [];
    this.pendingChars = 0;
    const whole = concat(this.blocks, 0, this.blocks.length);
    // One rope in place of the blocks: when a reader flattens it, the blocks are not kept beside the flat copy.
    // (Text appended after this is cut from a new origin, so its slices may flatten; only a partial answer reads early.)
    this.blocks = whole.length > 0 ? [whole] : [];
    this.joined = whole;
    return whole;
  }
}

/**
 * blocks[from, to) joined by `+`, pairwise, so the rope stays shallow (depth
 * log2 of the count): JavaScriptCore slices within one block of a rope at
 * most 8 levels deep without flattening it, so up to 256 blocks.
 */
function concat(blocks: readonly string[], from: number, to: number): string {
  if (to - from === 0) return "";
  if (to - from === 1) return blocks[from]!;
  const mid = (from + to) >>> 1;
  return concat(blocks, from, mid) + concat(blocks, mid, to);
}
