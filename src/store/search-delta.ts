/**
 * The in-memory part of the search index (search-index.ts): postings of the
 * documents indexed since the segment on disk was written, as compact runs
 * of (doc, tf, first position) u32 triples per term. Adding a document
 * costs one dictionary lookup per word; it allocates nothing per document
 * beyond the postings (a document's terms are counted in scratch arrays
 * indexed by term id), because the first build of a large history adds
 * every message ever written in one go.
 */

/** Triples per block of the pool; a block is BLOCK * 3 words then the index of the next block (0: none). */
const BLOCK = 16;
const BLOCK_WORDS = BLOCK * 3 + 1;

export class Delta {
  private readonly ids = new Map<string, number>();
  /** Block 0 is never used, so 0 can mean "no block". */
  private pool = new Uint32Array(BLOCK_WORDS * 64);
  private blocks = 1;
  /** Per term id: first and last block, triples in the last block, triples in all. */
  private head = new Uint32Array(1024);
  private tail = new Uint32Array(1024);
  private fill = new Uint32Array(1024);
  private count = new Uint32Array(1024);
  private termCount = 0;
  /** Per term id: the last document that counted it, its tf and first position there. */
  private lastDoc = new Int32Array(1024).fill(-1);
  private tf = new Uint32Array(1024);
  private first = new Uint32Array(1024);
  /** Term ids of the document being added, in order of first occurrence. */
  private order: number[] = [];

  get terms(): number {
    return this.termCount;
  }

  /** Adds document `doc` (ids ascending across calls) with its indexed words in text order. */
  add(doc: number, words: readonly string[]): void {
    const order = this.order;
    order.length = 0;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      let id = this.ids.get(w);
      if (id === undefined) {
        id = this.termCount++;
        this.ids.set(w, id);
        if (id >= this.lastDoc.length) this.growScratch();
      }
      if (this.lastDoc[id] !== doc) {
        this.lastDoc[id] = doc;
        this.tf[id] = 1;
        this.first[id] = i;
        order.push(id);
      } else this.tf[id] = this.tf[id]! + 1;
    }
    for (const id of order) this.push(id, doc, this.tf[id]!, this.first[id]!);
  }

  private push(id: number, doc: number, tf: number, first: number): void {
    let block = this.tail[id]!;
    let fill = this.fill[id]!;
    if (block === 0 || fill === BLOCK) {
      const fresh = this.newBlock();
      if (block === 0) this.head[id] = fresh;
      else this.pool[block * BLOCK_WORDS + BLOCK * 3] = fresh;
      this.tail[id] = block = fresh;
      fill = 0;
    }
    const at = block * BLOCK_WORDS + fill * 3;
    this.pool[at] = doc;
    this.pool[at + 1] = tf;
    this.pool[at + 2] = first;
    this.fill[id] = fill + 1;
    this.count[id] = this.count[id]! + 1;
  }

  private newBlock(): number {
    const b = this.blocks++;
    if ((b + 1) * BLOCK_WORDS > this.pool.length) {
      const next = new Uint32Array(this.pool.length * 2);
      next.set(this.pool);
      this.pool = next;
    }
    this.pool[b * BLOCK_WORDS + BLOCK * 3] = 0;
    return b;
  }

  /** The term's triples, in the order added (a copy), or undefined. */
  get(term: string): Uint32Array | undefined {
    const id = this.ids.get(term);
    if (id === undefined) return undefined;
    const out = new Uint32Array(this.count[id]! * 3);
    let at = 0;
    for (let b = this.head[id]!; b !== 0; b = this.pool[b * BLOCK_WORDS + BLOCK * 3]!) {
      const n = b === this.tail[id] ? this.fill[id]! : BLOCK;
      out.set(this.pool.subarray(b * BLOCK_WORDS, b * BLOCK_WORDS + n * 3), at);
      at += n * 3;
    }
    return out;
  }

  /** Every term, sorted (JavaScript string order, as the segment's). */
  sortedTerms(): string[] {
    return [...this.ids.keys()].sort();
  }

  bytes(): number {
    let n = this.pool.byteLength + this.lastDoc.byteLength * 7;
    for (const t of this.ids.keys()) n += t.length * 2 + 48;
    return n;
  }

  private growScratch(): void {
    const size = this.lastDoc.length * 2;
    const lastDoc = new Int32Array(size).fill(-1);
    lastDoc.set(this.lastDoc);
    this.lastDoc = lastDoc;
    const tf = new Uint32Array(size);
    tf.set(this.tf);
    this.tf = tf;
    const first = new Uint32Array(size);
    first.set(this.first);
    this.first = first;
    for (const name of ["head", "tail", "fill", "count"] as const) {
      const a = new Uint32Array(size);
      a.set(this[name]);
      this[name] = a;
    }
  }
}
