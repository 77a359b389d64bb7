/**
 * Writing a new search segment (search-index-file.ts) from the current one
 * and the delta: live documents renumbered in order (deleted sessions'
 * documents dropped), the two sorted term lists merged, the old segment's
 * postings streamed in ranges of terms into one reused buffer. Kept apart
 * from search-index.ts, which decides when to do it.
 */
import type { FileHandle } from "node:fs/promises";
import type { Delta } from "./search-delta.ts";
import {
  type CoveredSession,
  type DocColumns,
  type IndexSegment,
  readPostings,
  termAt,
  writeSegment,
} from "./search-index-file.ts";

export interface MergeInput {
  /** The segment now in use and its open file (both undefined before the first save). */
  segment: IndexSegment | undefined;
  file: FileHandle | undefined;
  docs: DocColumns;
  n: number;
  /** 1 for a live document. */
  alive: Uint8Array;
  delta: Delta;
  sessions: CoveredSession[];
  /** Postings read from the old segment at once. */
  mergeRange: number;
}

/** Writes the merged segment to `path` (temp file and rename). */
export async function mergeSegment(path: string, input: MergeInput): Promise<void> {
  const seg = input.segment;
  const fh = input.file;
  const remap = new Int32Array(input.n);
  let m = 0;
  for (let i = 0; i < input.n; i++) remap[i] = input.alive[i] === 1 ? m++ : -1;
  const d = input.docs;
  const docs: DocColumns = {
    ts: new Float64Array(m),
    offset: new Float64Array(m),
    session: new Uint32Array(m),
    length: new Uint32Array(m),
    bytes: new Uint32Array(m),
    role: new Uint8Array(m),
  };
  for (let i = 0; i < input.n; i++) {
    const j = remap[i]!;
    if (j < 0) continue;
    docs.ts[j] = d.ts[i]!;
    docs.offset[j] = d.offset[i]!;
    docs.session[j] = d.session[i]!;
    docs.length[j] = d.length[i]!;
    docs.bytes[j] = d.bytes[i]!;
    docs.role[j] = d.role[i]!;
  }
  // The union of the segment's terms and the delta's, sorted, remembering where each came from.
  const segTerms = seg ? seg.termStarts.length - 1 : 0;
  const deltaTerms = input.delta.sortedTerms();
  const terms: string[] = [];
  const fromSeg: number[] = [];
  const fromDelta: (Uint32Array | undefined)[] = [];
  for (let i = 0, j = 0; i < segTerms || j < deltaTerms.length; ) {
    const a = i < segTerms && seg ? termAt(seg, i) : undefined;
    const b = deltaTerms[j];
    if (a !== undefined && (b === undefined || a <= b)) {
      terms.push(a);
      fromSeg.push(i++);
      if (a === b) fromDelta.push(input.delta.get(deltaTerms[j++]!));
      else fromDelta.push(undefined);
    } else {
      terms.push(b!);
      fromSeg.push(-1);
      fromDelta.push(input.delta.get(deltaTerms[j++]!));
    }
  }
  // Segment postings are read in ranges of terms, in order.
  let rangeFrom = 0;
  let rangeTo = 0;
  let range: Uint32Array = new Uint32Array(0);
  const segmentPart = async (si: number): Promise<Uint32Array> => {
    if (!seg || !fh) return new Uint32Array(0);
    if (si >= rangeTo) {
      rangeFrom = si;
      rangeTo = si + 1;
      while (rangeTo < segTerms && seg.postingStart[rangeTo + 1]! - seg.postingStart[rangeFrom]! <= input.mergeRange)
        rangeTo++;
      range = await readPostings(fh, seg, rangeFrom, rangeTo, range);
    }
    const base = seg.postingStart[rangeFrom]!;
    return range.subarray((seg.postingStart[si]! - base) * 3, (seg.postingStart[si + 1]! - base) * 3);
  };
  let scratch = new Uint32Array(1 << 16);
  await writeSegment(path, {
    docs,
    n: m,
    terms,
    sessions: input.sessions,
    postings: async (t) => {
      const parts = [fromSeg[t]! >= 0 ? await segmentPart(fromSeg[t]!) : undefined, fromDelta[t]];
      // One scratch buffer for every term: writeSegment copies each term's postings out before asking for the next.
      const need = (parts[0]?.length ?? 0) + (parts[1]?.length ?? 0);
      if (scratch.length < need) scratch = new Uint32Array(Math.max(need, scratch.length * 2));
      const out = scratch;
      let len = 0;
      for (const p of parts)
        if (p)
          for (let j = 0; j < p.length; j += 3) {
            const doc = remap[p[j]!]!;
            if (doc < 0) continue;
            out[len++] = doc;
            out[len++] = p[j + 1]!;
            out[len++] = p[j + 2]!;
          }
      return out.subarray(0, len);
    },
  });
}
