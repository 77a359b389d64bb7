/**
 * Issue 11 item 14, the pure parts: search queries are capped before any
 * work is done, and a long search hands the event loop back often enough
 * that a timer scheduled during it fires within a few slices.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { StoredRecord } from "../../src/store/types.ts";
import {
  MAX_QUERY_CHARS,
  MAX_QUERY_TERMS,
  queryTerms,
  searchSessions,
  SearchQueryError,
  type SearchSource,
} from "../../src/store/search.ts";

test("queries over the character or the term limit are refused with a 400 that says what to do", () => {
  expect(queryTerms("deploy the pipeline")).toEqual(["deploy", "pipeline"]);
  const long = "x".repeat(MAX_QUERY_CHARS + 1);
  expect(() => queryTerms(long)).toThrow(
    `search query is ${MAX_QUERY_CHARS + 1} characters, over the ${MAX_QUERY_CHARS}-character limit`,
  );
  const many = Array.from({ length: MAX_QUERY_TERMS + 1 }, (_, i) => `w${i}`).join(" ");
  let err: unknown;
  try {
    queryTerms(many);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SearchQueryError);
  expect((err as SearchQueryError).code).toBe(400);
  expect((err as Error).message).toContain(
    `has ${MAX_QUERY_TERMS + 1} distinct words, over the ${MAX_QUERY_TERMS}-word limit`,
  );
  // Exactly at the limits is fine.
  expect(queryTerms(Array.from({ length: MAX_QUERY_TERMS }, (_, i) => `w${i}`).join(" "))).toHaveLength(
    MAX_QUERY_TERMS,
  );
});

test("a search that takes long on CPU alone still lets timers run every few milliseconds", async () => {
  // An in-memory source whose records never touch I/O: without slicing, the whole search is one microtask run.
  const text = "alpha beta gamma delta epsilon zeta ".repeat(300);
  const SESSIONS = 40;
  const PER_SESSION = 100;
  const source: SearchSource = {
    list: async () => ({
      total: SESSIONS,
      sessions: Array.from({ length: SESSIONS }, (_, i) => ({
        id: i + 1,
        agent: "crab",
        createdBy: "cli",
        createdAt: 0,
        title: "",
        messageCount: PER_SESSION,
        lastActive: 0,
        totalTokens: 0,
        lastSeq: 0,
      })),
    }),
    async *records(): AsyncIterable<StoredRecord> {
      for (let i = 0; i < PER_SESSION; i++)
        yield { ts: i, kind: "message", message: { role: "user", content: text, timestamp: i } };
    },
  };
  // Gaps are measured in this thread's CPU time, not wall time: on a loaded machine the scheduler may
  // park the whole process for longer than any slice, which says nothing about how long the search held
  // the event loop while it ran. Unsliced, the search is one run of CPU with no tick in it.
  let ticks = 0;
  let worstGap = 0;
  let last = threadCpuMs();
  const timer = setInterval(() => {
    const now = threadCpuMs();
    worstGap = Math.max(worstGap, now - last);
    last = now;
    ticks++;
  }, 1);
  const t0 = threadCpuMs();
  const hits = await searchSessions(source, "gamma zeta", { limit: 5 });
  const end = threadCpuMs();
  clearInterval(timer);
  const took = end - t0;
  worstGap = Math.max(worstGap, end - last); // the stretch after the last tick counts too
  expect(hits).toHaveLength(5);
  // The search must be long enough to mean something, and timers must have run all through it.
  expect(took).toBeGreaterThan(200);
  expect(ticks).toBeGreaterThan(took / 50);
  expect(worstGap).toBeLessThan(100);
});

/** CPU time this (the main) thread has run, in ms, from the kernel's per-thread schedstat; wall time off Linux. */
function threadCpuMs(): number {
  try {
    const ns = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0];
    return Number(ns) / 1e6;
  } catch {
    return performance.now();
  }
}
