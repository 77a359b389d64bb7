/**
 * The file store's search index: an inverted index over the same documents
 * search.ts scans (every user and assistant message's text), answering
 * with exactly the hits, scores and order of that scan (searchSessions,
 * which the in-memory twin still runs and the tests compare against).
 *
 * Parts. A segment on disk (search-index-file.ts; its docs, terms and
 * counts in memory, postings read per query term) plus a delta in memory
 * for documents indexed since it was written; a document is a row of typed
 * columns (session, role, ts, length, and where its line is, so a hit's
 * snippet is read back from the session file). Per session the index knows
 * how many bytes of the file it has indexed and a hash of the last 64 bytes
 * before that point.
 *
 * Kept current lazily: the store marks a session touched on every write and
 * dropped on delete; a query first indexes the lines touched sessions gained
 * (a file that shrank, or whose last 64 bytes before the indexed point
 * changed, is indexed again from the start: the store only appends, so that
 * catches a file replaced or cut and rewritten, not an edit further back,
 * which a hand-edited file can hide until its index is rebuilt), and after a
 * start every session once.
 * Compaction adds no document (searching covers every message on disk, as
 * before). The delta is written into a new segment when it grows large, after
 * a first build and on close; a crash loses only the delta, which the next
 * start indexes again from the session files.
 *
 * Exactness: N, the average length and the document frequencies are those
 * of the live documents, as the scan counts them; a document's score sums its
 * terms in the order they first occur in its text (the scan's order, which
 * floating-point addition can tell apart from another order), and ties keep
 * the scan's order: sessions as listed, messages in file order.
 */
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { idf as idfOf, terms as termsOf, termScore } from "../util/bm25.ts";
import { hash, looksLikeEvent, parseRecord } from "./fold.ts";
import { collectNow } from "../util/collect.ts";
import { readLineBatches } from "./line-reader.ts";
import { Delta } from "./search-delta.ts";
import { mergeSegment } from "./search-index-merge.ts";
import { slicer, snippet, tokenize } from "./search.ts";
import {
  type DocColumns,
  findTerm,
  INDEX_FILE,
  type IndexSegment,
  readPostings,
  readSegment,
} from "./search-index-file.ts";
import type { SearchHit, SessionSummary } from "./types.ts";

/** Delta documents that make a query write a new segment afterwards. */
const SAVE_AFTER_DOCS = 10_000;
/** Postings read per range when merging the segment into a new one. */
const MERGE_RANGE = 1 << 16;
const TAIL_HASH_BYTES = 64;

const EMPTY_DOCS: DocColumns = {
  ts: new Float64Array(0),
  offset: new Float64Array(0),
  session: new Uint32Array(0),
  length: new Uint32Array(0),
  bytes: new Uint32Array(0),
  role: new Uint8Array(0),
};

interface Covered {
  covered: number;
  tail: string;
}

function grow<T extends Float64Array | Uint32Array | Uint8Array>(a: T, need: number, make: (n: number) => T): T {
  if (a.length >= need) return a;
  const b = make(Math.max(need, a.length * 2, 1024));
  b.set(a);
  return b;
}

async function tailHash(fh: FileHandle, covered: number): Promise<string> {
  const from = Math.max(0, covered - TAIL_HASH_BYTES);
  const buf = Buffer.alloc(covered - from);
  await fh.read(buf, 0, buf.length, from);
  return hash(buf);
}

export class SearchIndex {
  private docs: DocColumns = { ...EMPTY_DOCS };
  private alive = new Uint8Array(0);
  private n = 0;
  private liveDocs = 0;
  private liveLength = 0;
  private deadDocs = 0;
  private segment: IndexSegment | undefined;
  /** Docs from this id on are in the delta. */
  private segmentDocs = 0;
  private score = new Float64Array(0);
  private matched = new Uint8Array(0);
  private delta = new Delta();
  private readonly sessions = new Map<number, Covered>();
  private readonly touched = new Set<number>();
  private loaded = false;
  private checkedAll = false;
  private chain: Promise<unknown> = Promise.resolve();

  private readonly saveAfterDocs: number;
  private readonly mergeRange: number;

  /**
   * `saveAfterDocs` (default SAVE_AFTER_DOCS): delta documents that make the index write a new segment;
   * `mergeRange` (default MERGE_RANGE): postings read at once when merging. Both small only in tests.
   */
  constructor(
    private readonly dir: string,
    opts: { saveAfterDocs?: number; mergeRange?: number } = {},
  ) {
    this.saveAfterDocs = opts.saveAfterDocs ?? SAVE_AFTER_DOCS;
    this.mergeRange = opts.mergeRange ?? MERGE_RANGE;
  }

  /** The session's file changed (append, repair): its new lines are indexed before the next query. */
  touch(id: number): void {
    this.touched.add(id);
  }

  /**
   * The session was deleted: its documents stop counting at the next query,
   * which finds its file gone. (Not at once: a query or save in progress
   * must see one consistent set of documents.)
   */
  drop(id: number): void {
    this.touched.add(id);
  }

  /** Forgets a session's documents now; only inside a serial operation. */
  private forget(id: number): void {
    this.touched.delete(id);
    if (this.sessions.delete(id)) this.killDocs(id);
  }

  /** Approximate bytes held in memory (docs, terms, delta), for reports. */
  memoryBytes(): number {
    const delta = this.delta.bytes();
    const seg = this.segment;
    const segBytes = seg ? seg.terms.length * 2 + seg.termStarts.byteLength + seg.postingStart.byteLength : 0;
    const d = this.docs;
    return (
      d.ts.byteLength * 2 + d.session.byteLength * 3 + d.role.byteLength + this.alive.byteLength + segBytes + delta
    );
  }

  /** Runs after every earlier index operation: one catch-up, query or save at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The best `limit` hits for the distinct query terms over the listed sessions, exactly as searchSessions ranks them. */
  search(listing: readonly SessionSummary[], terms: readonly string[], limit: number): Promise<SearchHit[]> {
    const hits = this.serial(async () => {
      await this.catchUp(listing);
      return this.query(listing, terms, limit);
    });
    void hits.then(() => {
      if (this.n - this.segmentDocs >= this.saveAfterDocs || (this.segment === undefined && this.n > 0))
        void this.serial(() => this.save()).catch(() => undefined);
    });
    return hits;
  }

  /** Writes the delta into the segment file when there is one, then releases the file. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (this.n > this.segmentDocs || this.deadDocs > 0) await this.save().catch(() => undefined);
    });
  }

  /** Forgets everything: the next query indexes every session file again. */
  private reset(): void {
    Object.assign(this, {
      docs: { ...EMPTY_DOCS },
      alive: new Uint8Array(0),
      n: 0,
      liveDocs: 0,
      liveLength: 0,
      deadDocs: 0,
      segment: undefined,
      segmentDocs: 0,
      delta: new Delta(),
      loaded: false,
      checkedAll: false,
    });
    this.sessions.clear();
  }

  /** The saved segment, if a valid one exists; documents of sessions it does not list as covered do not count. */
  private async load(): Promise<void> {
    this.loaded = true;
    const seg = await readSegment(join(this.dir, INDEX_FILE));
    if (!seg) return;
    this.segment = seg;
    this.docs = seg.docs;
    this.n = this.segmentDocs = seg.n;
    for (const [id, covered, tail] of seg.sessions) this.sessions.set(id, { covered, tail });
    this.alive = new Uint8Array(seg.n);
    for (let i = 0; i < seg.n; i++) {
      if (!this.sessions.has(seg.docs.session[i]!)) {
        this.deadDocs++;
        continue;
      }
      this.alive[i] = 1;
      this.liveDocs++;
      this.liveLength += seg.docs.length[i]!;
    }
  }

  private async catchUp(listing: readonly SessionSummary[]): Promise<void> {
    if (!this.loaded) await this.load();
    const listed = new Set<number>();
    const pause = slicer();
    for (const s of listing) {
      listed.add(s.id);
      if (this.checkedAll && this.sessions.has(s.id) && !this.touched.has(s.id)) continue;
      this.touched.delete(s.id);
      await this.sync(s.id, pause);
    }
    for (const id of [...this.sessions.keys()]) if (!listed.has(id)) this.forget(id);
    for (const id of [...this.touched]) if (!listed.has(id)) this.touched.delete(id);
    this.checkedAll = true;
  }

  /** Indexes what the session's file gained since last time (all of it when the indexed part changed). */
  private async sync(id: number, pause: () => Promise<void>): Promise<void> {
    const path = join(this.dir, `${id}.jsonl`);
    let fh: FileHandle;
    try {
      fh = await open(path, "r");
    } catch {
      this.forget(id);
      return;
    }
    try {
      const size = (await fh.stat()).size;
      const known = this.sessions.get(id);
      let from = 0;
      if (known && known.covered <= size && (await tailHash(fh, known.covered)) === known.tail) from = known.covered;
      else if (known) this.forget(id);
      if (known && from === size) return;
      let covered = from;
      outer: for await (const lines of readLineBatches(fh, { start: from, end: size })) {
        for (let k = 0; k < lines.length; k++) {
          const line = lines[k]!;
          if (k % 64 === 63) await pause();
          if (looksLikeEvent(line.text)) {
            if (line.terminated) covered = line.offset + line.bytes + 1;
            continue;
          }
          const r = parseRecord(line.text);
          // A last line without its newline counts once it is a whole record; a torn one is left for later.
          if (!line.terminated && !r) break outer;
          covered = line.offset + line.bytes + (line.terminated ? 1 : 0);
          if (r?.kind !== "message") continue;
          const m = r.message;
          if ((m.role === "user" || m.role === "assistant") && typeof m.content === "string" && m.content.length > 0)
            this.addDoc(id, m.role === "user" ? 0 : 1, m.timestamp ?? r.ts, line.offset, line.bytes, m.content);
        }
        if (this.n - this.segmentDocs >= this.saveAfterDocs) {
          // Bounds the delta while indexing a large history: the segment records how far this session got.
          this.sessions.set(id, { covered, tail: await tailHash(fh, covered) });
          await this.save();
          // A first build parses every message ever written; collecting now keeps the daemon's peak RSS
          // near its live size (measured on 100k messages: 250 MB peak without, 130 MB with).
          collectNow();
        }
        await pause();
      }
      this.sessions.set(id, { covered, tail: await tailHash(fh, covered) });
    } finally {
      await fh.close();
    }
  }

  private addDoc(session: number, role: number, ts: number, offset: number, bytes: number, text: string): void {
    const doc = this.n++;
    const d = this.docs;
    if (this.alive.length < this.n) {
      d.ts = grow(d.ts, this.n, (k) => new Float64Array(k));
      d.offset = grow(d.offset, this.n, (k) => new Float64Array(k));
      d.session = grow(d.session, this.n, (k) => new Uint32Array(k));
      d.length = grow(d.length, this.n, (k) => new Uint32Array(k));
      d.bytes = grow(d.bytes, this.n, (k) => new Uint32Array(k));
      d.role = grow(d.role, this.n, (k) => new Uint8Array(k));
      this.alive = grow(this.alive, this.n, (k) => new Uint8Array(k));
    }
    const words = termsOf(text);
    d.ts[doc] = ts;
    d.offset[doc] = offset;
    d.session[doc] = session;
    d.length[doc] = words.length;
    d.bytes[doc] = bytes;
    d.role[doc] = role;
    this.alive[doc] = 1;
    this.liveDocs++;
    this.liveLength += words.length;
    this.delta.add(doc, words);
  }

  private killDocs(session: number): void {
    for (let i = 0; i < this.n; i++) {
      if (this.alive[i] !== 1 || this.docs.session[i] !== session) continue;
      this.alive[i] = 0;
      this.liveDocs--;
      this.liveLength -= this.docs.length[i]!;
      this.deadDocs++;
    }
  }

  /** A term's postings, segment then delta (doc ids ascending); `fh` is the open segment file. */
  private async postings(fh: FileHandle | undefined, term: string): Promise<Uint32Array[]> {
    const parts: Uint32Array[] = [];
    const seg = this.segment;
    if (seg && fh) {
      const i = findTerm(seg, term);
      if (i >= 0) parts.push(await readPostings(fh, seg, i, i + 1));
    }
    const d = this.delta.get(term);
    if (d) parts.push(d);
    return parts;
  }

  private async query(
    listing: readonly SessionSummary[],
    terms: readonly string[],
    limit: number,
  ): Promise<SearchHit[]> {
    if (this.liveDocs === 0) return [];
    const docs = this.liveDocs;
    const alive = this.alive;
    const lists = await this.withSegment(async (fh) => {
      const out: Uint32Array[][] = [];
      for (const t of terms) out.push(await this.postings(fh, t));
      return out;
    });
    const idfs = lists.map((parts) => {
      let df = 0;
      for (const p of parts) for (let j = 0; j < p.length; j += 3) df += alive[p[j]!]!;
      return idfOf(docs, df);
    });
    // Scratch per document, kept between queries (allocating 9 bytes per document per query showed in RSS);
    // every entry a query sets is cleared again before it returns.
    if (this.score.length < this.n) {
      this.score = new Float64Array(this.n + (this.n >> 3));
      this.matched = new Uint8Array(this.score.length);
    }
    const score = this.score;
    const matched = this.matched;
    const candidates: number[] = [];
    try {
      return await this.rank(listing, terms, limit, lists, idfs, candidates);
    } finally {
      for (const doc of candidates) {
        score[doc] = 0;
        matched[doc] = 0;
      }
    }
  }

  private async rank(
    listing: readonly SessionSummary[],
    terms: readonly string[],
    limit: number,
    lists: Uint32Array[][],
    idfs: number[],
    candidates: number[],
  ): Promise<SearchHit[]> {
    const { score, matched, alive } = this;
    const length = this.docs.length;
    const docs = this.liveDocs;
    const avgdl = this.liveLength / docs;
    lists.forEach((parts, k) => {
      for (const p of parts)
        for (let j = 0; j < p.length; j += 3) {
          const doc = p[j]!;
          if (alive[doc] !== 1) continue;
          if (matched[doc] === 0) candidates.push(doc);
          matched[doc] = matched[doc]! + 1;
          score[doc] = score[doc]! + termScore(idfs[k]!, p[j + 1]!, length[doc]!, avgdl);
        }
    });
    // Two terms add up the same in either order; from three on, sum in order of first occurrence, as the scan does.
    const multi = new Map<number, number[]>();
    for (const doc of candidates) if (matched[doc]! >= 3) multi.set(doc, []);
    if (multi.size > 0) {
      lists.forEach((parts, k) => {
        for (const p of parts)
          for (let j = 0; j < p.length; j += 3) {
            const parts2 = multi.get(p[j]!);
            if (parts2 && alive[p[j]!] === 1)
              parts2.push(p[j + 2]!, termScore(idfs[k]!, p[j + 1]!, length[p[j]!]!, avgdl));
          }
      });
      for (const [doc, pairs] of multi) {
        const order = Array.from({ length: pairs.length / 2 }, (_, i) => i).sort(
          (a, b) => pairs[2 * a]! - pairs[2 * b]!,
        );
        let sum = 0;
        for (const i of order) sum += pairs[2 * i + 1]!;
        score[doc] = sum;
      }
    }
    const rank = new Map<number, number>(listing.map((s, i) => [s.id, i]));
    const agent = new Map<number, string>(listing.map((s) => [s.id, s.agent]));
    const session = this.docs.session;
    // Best first; ties in the scan's order: sessions as listed, then file order (ascending doc ids within a session).
    const better = (a: number, b: number): boolean => {
      if (score[a] !== score[b]) return score[a]! > score[b]!;
      const ra = rank.get(session[a]!)!;
      const rb = rank.get(session[b]!)!;
      return ra !== rb ? ra < rb : a < b;
    };
    const best: number[] = [];
    for (const doc of candidates) {
      if (best.length === limit && !better(doc, best[limit - 1]!)) continue;
      let i = best.length;
      while (i > 0 && better(doc, best[i - 1]!)) i--;
      best.splice(i, 0, doc);
      if (best.length > limit) best.pop();
    }
    const idf = new Map<string, number>(terms.map((t, k) => [t, idfs[k]!]));
    const hits: SearchHit[] = [];
    for (const doc of best) {
      const text = await this.textOf(doc);
      if (text === undefined) continue;
      hits.push({
        session: session[doc]!,
        agent: agent.get(session[doc]!)!,
        role: this.docs.role[doc] === 0 ? "user" : "assistant",
        snippet: snippet(text, tokenize(text), idf),
        score: score[doc]!,
        ts: this.docs.ts[doc]!,
      });
    }
    return hits;
  }

  /** A document's text, read back from its line in the session file (undefined if the file changed under it). */
  private async textOf(doc: number): Promise<string | undefined> {
    try {
      const fh = await open(join(this.dir, `${this.docs.session[doc]}.jsonl`), "r");
      try {
        const buf = Buffer.alloc(this.docs.bytes[doc]!);
        await fh.read(buf, 0, buf.length, this.docs.offset[doc]!);
        const r = parseRecord(buf.toString("utf8"));
        return r?.kind === "message" && typeof r.message.content === "string" ? r.message.content : undefined;
      } finally {
        await fh.close();
      }
    } catch {
      return undefined;
    }
  }

  /** Runs `fn` with the segment file open (undefined when there is no segment); the file is closed after. */
  private async withSegment<T>(fn: (fh: FileHandle | undefined) => Promise<T>): Promise<T> {
    if (!this.segment) return fn(undefined);
    const fh = await open(join(this.dir, INDEX_FILE), "r");
    try {
      return await fn(fh);
    } finally {
      await fh.close();
    }
  }

  /** Writes live documents (segment and delta) into a new segment file and makes it the segment. */
  private save(): Promise<void> {
    return this.withSegment((fh) => this.saveFrom(fh));
  }

  private async saveFrom(fh: FileHandle | undefined): Promise<void> {
    const path = join(this.dir, INDEX_FILE);
    await mergeSegment(path, {
      segment: this.segment,
      file: fh,
      docs: this.docs,
      n: this.n,
      alive: this.alive,
      delta: this.delta,
      sessions: [...this.sessions].map(([id, c]) => [id, c.covered, c.tail]),
      mergeRange: this.mergeRange,
    });
    const fresh = await readSegment(path);
    if (!fresh) {
      // Not expected (it was just written); start over from the session files rather than answer from half an index.
      this.reset();
      throw new Error(`search index: ${path} did not read back after writing it`);
    }
    this.segment = fresh;
    this.docs = fresh.docs;
    this.n = this.segmentDocs = fresh.n;
    this.alive = new Uint8Array(fresh.n).fill(1);
    this.deadDocs = 0;
    this.delta = new Delta();
  }
}
