/**
 * The on-disk form of the search index (search-index.ts):
 * `<sessions dir>/search.idx`, one immutable segment rewritten whole (temp
 * file and rename) when the index is saved. Layout, every section padded to
 * 8 bytes:
 *
 *   "CRABIDX1"
 *   docs      ts f64[n], offset f64[n], session u32[n], length u32[n], bytes u32[n], role u8[n]
 *   terms     the sorted terms, UTF-8, each followed by "\n"
 *   postings  u32 triples (doc, tf, first position) grouped by term, in term order
 *   counts    u32[V] postings per term
 *   trailer   JSON {v, docs, terms, termBytes, postings, sessions: [id, covered, tailHash][]}, space-padded
 *   u32 trailer length, u32 checksum of everything after the magic up to here, "CRABIDX1"
 *
 * Only the trailer, docs, terms and counts are held in memory; a query
 * reads the postings of its terms from the file. A file that is missing,
 * of another version, cut short or whose checksum does not match is not
 * used (the index is rebuilt from the session files): it is a cache,
 * never a source of truth.
 */
import { type FileHandle, open, rename, rm } from "node:fs/promises";

export const INDEX_FILE = "search.idx";
export const INDEX_VERSION = 1;
const MAGIC = Buffer.from("CRABIDX1");
const END_BYTES = 16;

/** Per session: bytes of its file indexed so far and a hash of the bytes just before that point. */
export type CoveredSession = [id: number, covered: number, tail: string];

export interface DocColumns {
  ts: Float64Array;
  offset: Float64Array;
  session: Uint32Array;
  length: Uint32Array;
  bytes: Uint32Array;
  /** 0 user, 1 assistant. */
  role: Uint8Array;
}

interface Trailer {
  v: number;
  docs: number;
  terms: number;
  termBytes: number;
  postings: number;
  sessions: CoveredSession[];
}

export interface IndexSegment {
  docs: DocColumns;
  n: number;
  /** The sorted terms joined by "\n" (with a trailing one), and where each starts. */
  terms: string;
  termStarts: Uint32Array;
  /** Index of each term's first posting (V + 1 entries). */
  postingStart: Float64Array;
  /** Byte offset of the postings section. */
  postingsAt: number;
  sessions: CoveredSession[];
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** FNV-style running checksum over little-endian u32 words. */
function checksum(h: number, words: Uint32Array): number {
  let x = h;
  for (let i = 0; i < words.length; i++) x = Math.imul(x ^ words[i]!, 0x01000193);
  return x >>> 0;
}

/** Sequential writer with the running checksum; chunks stay word-aligned (the buffer is a view of u32 words). */
class Out {
  private readonly words = new Uint32Array(1 << 18);
  private readonly buf = Buffer.from(this.words.buffer);
  private len = 0;
  sum = 0x811c9dc5;
  constructor(
    private readonly fh: FileHandle,
    private pos: number,
  ) {}

  get written(): number {
    return this.pos + this.len;
  }

  async bytes(data: Uint8Array): Promise<void> {
    let i = 0;
    while (i < data.length) {
      const n = Math.min(data.length - i, this.buf.length - this.len);
      this.buf.set(data.subarray(i, i + n), this.len);
      this.len += n;
      i += n;
      if (this.len === this.buf.length) await this.flush(false);
    }
  }

  async pad(): Promise<void> {
    const extra = pad8(this.written) - this.written;
    if (extra > 0) await this.bytes(new Uint8Array(extra));
  }

  /** Writes the whole words buffered (everything when `all`: the stream then ends on a word boundary). */
  async flush(all: boolean): Promise<void> {
    const n = all ? this.len : this.len & ~3;
    if (n === 0) return;
    this.sum = checksum(this.sum, this.words.subarray(0, n >> 2));
    await this.fh.write(this.buf, 0, n, this.pos);
    this.pos += n;
    this.buf.copy(this.buf, 0, n, this.len);
    this.len -= n;
  }
}

const view = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export interface SegmentSource {
  docs: DocColumns;
  n: number;
  /** Sorted. */
  terms: string[];
  /** Postings of term i, in term order (each called once, in order). */
  postings(i: number): Promise<Uint32Array>;
  sessions: CoveredSession[];
}

/** Writes a segment to `<path>.tmp` and renames it over `path`. */
export async function writeSegment(path: string, src: SegmentSource): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.write(MAGIC, 0, MAGIC.length, 0);
    const out = new Out(fh, MAGIC.length);
    const { docs, n } = src;
    for (const col of [docs.ts, docs.offset, docs.session, docs.length, docs.bytes, docs.role])
      await out.bytes(view(col.subarray(0, n)));
    await out.pad();
    const termBlob = Buffer.from(src.terms.length > 0 ? `${src.terms.join("\n")}\n` : "");
    await out.bytes(termBlob);
    await out.pad();
    const counts = new Uint32Array(src.terms.length);
    let total = 0;
    for (let i = 0; i < src.terms.length; i++) {
      const p = await src.postings(i);
      counts[i] = p.length / 3;
      total += p.length / 3;
      await out.bytes(view(p));
    }
    await out.pad();
    await out.bytes(view(counts));
    await out.pad();
    const trailer: Trailer = {
      v: INDEX_VERSION,
      docs: n,
      terms: src.terms.length,
      termBytes: termBlob.length,
      postings: total,
      sessions: src.sessions,
    };
    const json = Buffer.from(JSON.stringify(trailer));
    const padded = Buffer.alloc(pad8(json.length), 0x20);
    json.copy(padded);
    await out.bytes(padded);
    await out.flush(true);
    const end = Buffer.alloc(END_BYTES);
    end.writeUInt32LE(padded.length, 0);
    end.writeUInt32LE(out.sum, 4);
    MAGIC.copy(end, 8);
    await fh.write(end, 0, END_BYTES, out.written);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

async function readExact(fh: FileHandle, into: Uint8Array, at: number): Promise<boolean> {
  let got = 0;
  while (got < into.length) {
    const { bytesRead } = await fh.read(into, got, into.length - got, at + got);
    if (bytesRead === 0) return false;
    got += bytesRead;
  }
  return true;
}

function isTrailer(t: Trailer): boolean {
  return (
    typeof t === "object" &&
    t !== null &&
    t.v === INDEX_VERSION &&
    [t.docs, t.terms, t.termBytes, t.postings].every((x) => Number.isSafeInteger(x) && x >= 0) &&
    Array.isArray(t.sessions) &&
    t.sessions.every(
      (s) => Array.isArray(s) && Number.isSafeInteger(s[0]) && Number.isSafeInteger(s[1]) && typeof s[2] === "string",
    )
  );
}

/** The segment in `path`, or undefined when it is missing or fails any check (see the top of this file). */
export async function readSegment(path: string): Promise<IndexSegment | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch {
    return undefined;
  }
  try {
    const size = (await fh.stat()).size;
    if (size < MAGIC.length + END_BYTES || size % 8 !== 0) return undefined;
    const end = Buffer.alloc(END_BYTES);
    if (!(await readExact(fh, end, size - END_BYTES)) || !end.subarray(8).equals(MAGIC)) return undefined;
    const trailerLen = end.readUInt32LE(0);
    if (trailerLen > size - END_BYTES - MAGIC.length) return undefined;
    const trailerBytes = Buffer.alloc(trailerLen);
    await readExact(fh, trailerBytes, size - END_BYTES - trailerLen);
    let t: Trailer;
    try {
      t = JSON.parse(trailerBytes.toString("utf8")) as Trailer;
    } catch {
      return undefined;
    }
    if (!isTrailer(t)) return undefined;
    const n = t.docs;
    const docsBytes = pad8(n * (8 + 8 + 4 + 4 + 4 + 1));
    const termsAt = MAGIC.length + docsBytes;
    const postingsAt = termsAt + pad8(t.termBytes);
    const countsAt = postingsAt + pad8(t.postings * 12);
    const trailerAt = countsAt + pad8(t.terms * 4);
    if (trailerAt + trailerLen + END_BYTES !== size) return undefined;
    // The checksum covers every byte after the magic up to the end block: read once, in chunks.
    let sum = 0x811c9dc5;
    const chunk = new Uint32Array(1 << 18);
    const chunkBytes = Buffer.from(chunk.buffer);
    for (let at = MAGIC.length; at < size - END_BYTES; ) {
      const len = Math.min(chunkBytes.length, size - END_BYTES - at);
      if (!(await readExact(fh, chunkBytes.subarray(0, len), at))) return undefined;
      sum = checksum(sum, chunk.subarray(0, len >> 2));
      at += len;
    }
    if (sum !== end.readUInt32LE(4)) return undefined;
    // Docs and terms (one read), counts (another): never the postings, which stay on disk.
    const head = new Uint8Array(postingsAt - MAGIC.length);
    await readExact(fh, head, MAGIC.length);
    // Views, not copies: the sections are 8-byte aligned in the file and in `head` (f64 columns first).
    let o = 0;
    const take = <T>(make: (b: ArrayBuffer, at: number, count: number) => T, size: number): T => {
      const out = make(head.buffer, o, n);
      o += n * size;
      return out;
    };
    const docs: DocColumns = {
      ts: take((b, at, k) => new Float64Array(b, at, k), 8),
      offset: take((b, at, k) => new Float64Array(b, at, k), 8),
      session: take((b, at, k) => new Uint32Array(b, at, k), 4),
      length: take((b, at, k) => new Uint32Array(b, at, k), 4),
      bytes: take((b, at, k) => new Uint32Array(b, at, k), 4),
      role: take((b, at, k) => new Uint8Array(b, at, k), 1),
    };
    const terms = Buffer.from(head.buffer, termsAt - MAGIC.length, t.termBytes).toString("utf8");
    const counts = new Uint32Array(t.terms);
    await readExact(fh, new Uint8Array(counts.buffer), countsAt);
    const termStarts = new Uint32Array(t.terms + 1);
    const postingStart = new Float64Array(t.terms + 1);
    let at = 0;
    for (let i = 0; i < t.terms; i++) {
      termStarts[i] = at;
      const nl = terms.indexOf("\n", at);
      if (nl === -1) return undefined;
      at = nl + 1;
      postingStart[i + 1] = postingStart[i]! + counts[i]!;
    }
    termStarts[t.terms] = at;
    if (postingStart[t.terms] !== t.postings) return undefined;
    return { docs, n, terms, termStarts, postingStart, postingsAt, sessions: t.sessions };
  } finally {
    await fh.close();
  }
}

/** Index of `term` in the segment's sorted terms, or -1. */
export function findTerm(seg: Pick<IndexSegment, "terms" | "termStarts">, term: string): number {
  let lo = 0;
  let hi = seg.termStarts.length - 2;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = seg.terms.slice(seg.termStarts[mid]!, seg.termStarts[mid + 1]! - 1);
    if (t === term) return mid;
    if (t < term) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The term at index i. */
export function termAt(seg: Pick<IndexSegment, "terms" | "termStarts">, i: number): string {
  return seg.terms.slice(seg.termStarts[i]!, seg.termStarts[i + 1]! - 1);
}

/** Postings of terms [from, to) of the segment, read from its file as one range (into `reuse` when it is large enough). */
export async function readPostings(
  fh: FileHandle,
  seg: IndexSegment,
  from: number,
  to: number,
  reuse?: Uint32Array,
): Promise<Uint32Array> {
  const first = seg.postingStart[from]!;
  const count = (seg.postingStart[to]! - first) * 3;
  const out =
    reuse && reuse.buffer.byteLength >= count * 4 ? new Uint32Array(reuse.buffer, 0, count) : new Uint32Array(count);
  if (out.length > 0 && !(await readExact(fh, new Uint8Array(out.buffer, 0, count * 4), seg.postingsAt + first * 12)))
    throw new Error(`search index: postings cut short in ${INDEX_FILE}`);
  return out;
}
