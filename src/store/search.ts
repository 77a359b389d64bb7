/**
 * BM25 search over past conversation text across sessions. A document is
 * one user or assistant message's text content; tool call arguments, tool
 * results and thinking are never indexed, since they often hold secrets.
 *
 * Scoring is util/bm25.ts, shared with memory recall.
 *
 * This scan keeps no index: each query streams every session's records
 * twice through the store's `records()` (pass one counts documents, lengths
 * and the document frequency of the query terms; pass two scores and keeps
 * the best `limit` hits), memory O(limit + query terms), cost linear in the
 * bytes on disk. The in-memory twin searches with it, and it is the
 * reference the file store's index (search-index.ts) must equal hit for hit:
 * that index answers 100,000 messages in milliseconds where this scan takes
 * over a second.
 *
 * Fairness: the daemon has one event loop, so a search hands it back every
 * SLICE_MS of work (pings, other clients and running turns go on during a
 * long search), and queries are capped (MAX_QUERY_CHARS, MAX_QUERY_TERMS)
 * before any work is done: tokenizing a 12 MB query alone held the loop for
 * seconds, and every query term costs a lookup per word of the corpus.
 */
import type { Message } from "../provider/types.ts";
import { idf as idfOf, STOPWORDS, termScore, tokenize, WORD, type Token } from "../util/bm25.ts";

/** Re-exported for callers that tokenize the way search does (snippets, tests). */
export { tokenize, type Token };
import type { SearchHit, SearchOptions, SessionPage, ListOptions, StoredRecord } from "./types.ts";

export const DEFAULT_SEARCH_LIMIT = 20;
/** Snippet width in characters: about one line of a terminal. */
const SNIPPET_CHARS = 160;
/** How much of the snippet goes before the first matched term. */
const SNIPPET_LEAD = 50;

/** About 150 words: far more than anyone types into a search box, and cheap to tokenize. */
export const MAX_QUERY_CHARS = 1000;
/** Distinct terms after stopwords; more says "this is a pasted document", not a query. */
export const MAX_QUERY_TERMS = 32;
/** Longest stretch of search work between visits to the event loop: a ping waits at most about this long. */
const SLICE_MS = 10;

/** A query refused before searching; `code` 400 makes it a bad-request error on the wire. */
export class SearchQueryError extends Error {
  readonly code = 400;
}

/** The distinct query terms, or a SearchQueryError saying what limit the query broke and what to do. */
export function queryTerms(query: string): string[] {
  if (query.length > MAX_QUERY_CHARS)
    throw new SearchQueryError(
      `search query is ${query.length} characters, over the ${MAX_QUERY_CHARS}-character limit; search for a few distinctive words instead`,
    );
  const terms = [...new Set(tokenize(query).map((t) => t.term))];
  if (terms.length > MAX_QUERY_TERMS)
    throw new SearchQueryError(
      `search query has ${terms.length} distinct words, over the ${MAX_QUERY_TERMS}-word limit; search for a few distinctive words instead`,
    );
  return terms;
}

/** Hands the event loop back once SLICE_MS of work has passed since the last time. */
export function slicer(): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}

/**
 * Counts a text's indexed terms and the occurrences of the query terms,
 * without building Token objects: the hot path runs over every message.
 */
function termCounts(text: string, query: ReadonlySet<string>): { length: number; tf: Map<string, number> } {
  const tf = new Map<string, number>();
  let length = 0;
  for (const word of text.toLowerCase().match(WORD) ?? []) {
    if (STOPWORDS.has(word)) continue;
    length++;
    if (query.has(word)) tf.set(word, (tf.get(word) ?? 0) + 1);
  }
  return { length, tf };
}

/** What search needs from a store; both backends provide it. */
export interface SearchSource {
  list(opts: ListOptions): Promise<SessionPage>;
  records(id: number): AsyncIterable<StoredRecord>;
}

interface Doc {
  session: number;
  agent: string;
  role: "user" | "assistant";
  text: string;
  ts: number;
}

/** Pauses (see slicer) between records, not documents: most records are turn events that are parsed and skipped. */
async function* documents(
  source: SearchSource,
  sessions: readonly { id: number; agent: string }[],
  pause: () => Promise<void>,
): AsyncGenerator<Doc> {
  for (const s of sessions) {
    try {
      for await (const r of source.records(s.id)) {
        await pause();
        if (r.kind !== "message") continue;
        const m: Message = r.message;
        if ((m.role === "user" || m.role === "assistant") && typeof m.content === "string" && m.content.length > 0) {
          yield { session: s.id, agent: s.agent, role: m.role, text: m.content, ts: m.timestamp ?? r.ts };
        }
      }
    } catch {
      // A session deleted between the listing and the read: nothing to search in it.
    }
  }
}

export async function searchSessions(
  source: SearchSource,
  query: string,
  opts: SearchOptions = {},
): Promise<SearchHit[]> {
  const limit = Math.max(1, Math.floor(opts.limit ?? DEFAULT_SEARCH_LIMIT));
  const terms = queryTerms(query);
  if (terms.length === 0) return [];
  const pause = slicer();
  const { sessions } = await source.list({ offset: 0, limit: Number.MAX_SAFE_INTEGER });

  // Pass 1: corpus statistics for the query terms only.
  const wanted = new Set(terms);
  let docs = 0;
  let totalLength = 0;
  const df = new Map<string, number>(terms.map((t) => [t, 0]));
  for await (const d of documents(source, sessions, pause)) {
    const { length, tf } = termCounts(d.text, wanted);
    docs++;
    totalLength += length;
    for (const t of tf.keys()) df.set(t, (df.get(t) ?? 0) + 1);
  }
  if (docs === 0) return [];
  const avgdl = totalLength / docs;
  const idf = new Map<string, number>();
  for (const [t, n] of df) idf.set(t, idfOf(docs, n));

  // Pass 2: score, keep the best `limit` (kept sorted, best first).
  const best: { doc: Doc; score: number }[] = [];
  for await (const d of documents(source, sessions, pause)) {
    const { length, tf } = termCounts(d.text, wanted);
    if (tf.size === 0) continue;
    let score = 0;
    for (const [t, f] of tf) score += termScore(idf.get(t) ?? 0, f, length, avgdl);
    if (best.length === limit && score <= best[best.length - 1]!.score) continue;
    let i = best.length;
    while (i > 0 && best[i - 1]!.score < score) i--;
    best.splice(i, 0, { doc: d, score });
    if (best.length > limit) best.pop();
  }
  return best.map(({ doc, score }) => ({
    session: doc.session,
    agent: doc.agent,
    role: doc.role,
    snippet: snippet(doc.text, tokenize(doc.text), idf),
    score,
    ts: doc.ts,
  }));
}

/**
 * The SNIPPET_CHARS window that holds the most query weight (sum of idf of
 * the distinct terms inside), starting a little before its first match;
 * whitespace collapsed, cuts marked with "…".
 */
export function snippet(text: string, tokens: readonly Token[], idf: ReadonlyMap<string, number>): string {
  const hits = tokens.filter((t) => idf.has(t.term)).slice(0, 200);
  let start = 0;
  let bestWeight = -1;
  for (const h of hits) {
    const from = Math.max(0, h.at - SNIPPET_LEAD);
    const inside = new Set<string>();
    for (const o of hits) if (o.at >= from && o.at + o.length <= from + SNIPPET_CHARS) inside.add(o.term);
    let weight = 0;
    for (const t of inside) weight += idf.get(t) ?? 0;
    if (weight > bestWeight) {
      bestWeight = weight;
      start = from;
    }
  }
  let end = Math.min(text.length, start + SNIPPET_CHARS);
  if (start > 0) {
    const space = text.lastIndexOf(" ", start);
    if (space !== -1 && start - space < 20) start = space + 1;
  }
  if (end < text.length) {
    const space = text.indexOf(" ", end);
    if (space !== -1 && space - end < 20) end = space;
  }
  const body = text.slice(start, end).replace(/\s+/g, " ").trim();
  return (start > 0 ? "…" : "") + body + (end < text.length ? "…" : "");
}
