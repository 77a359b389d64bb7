/**
 * The file store's indexed search against the reference, the full-scan
 * BM25 of search.ts (searchSessions, which the in-memory twin still runs):
 * the same hits, scores, snippets and order on a generated corpus (skewed
 * vocabulary, repeated texts for exact ties, multi-word queries), kept equal
 * while sessions grow, are deleted, compacted or cut by a crash, across a
 * restart (the saved index) and with every kind of bad index file (rebuilt,
 * never an error).
 */
import { describe, expect, spyOn, test } from "bun:test";
import { appendFileSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import { queryTerms, searchSessions } from "../../src/store/search.ts";
import { SearchIndex } from "../../src/store/search-index.ts";
import { INDEX_FILE, readSegment } from "../../src/store/search-index-file.ts";
import type { NewRecord } from "../../src/store/types.ts";
import { writeLongSession } from "../helpers/session-gen.ts";
import { tempDir } from "./helpers.ts";
import { rng } from "../helpers/seeded.ts";

const random = rng(20);
const VOCAB = Array.from({ length: 1500 }, (_, i) =>
  i % 97 === 0 ? `Ünïcødé${i}` : i % 31 === 0 ? `${i}` : Math.floor(random() * 36 ** 6).toString(36),
);
/** Zipf-like: a few words very common, most rare; sometimes a stop word or punctuation. */
function sentence(r: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    out.push(r() < 0.1 ? "the" : VOCAB[Math.floor(VOCAB.length * r() ** 3)]!);
    if (r() < 0.05) out.push(r() < 0.5 ? "—" : "it's");
  }
  return out.join(" ");
}

const CANNED = ["the same canned answer about deploys and kubernetes", "ok"];
const textOf = (r: () => number) => (i: number, role: "user" | "assistant") =>
  role === "assistant" && i % 7 === 0 ? CANNED[i % 2]! : sentence(r, 3 + Math.floor(r() * 40));

async function corpus(dir: string, sessions: number, messages: number): Promise<JsonlSessionStore> {
  const store = await JsonlSessionStore.open(dir, { fsync: "none" });
  const r = rng(7);
  for (let s = 0; s < sessions; s++)
    await writeLongSession(store, {
      messages,
      agent: s % 3 === 0 ? "scout" : "crab",
      compactEvery: s % 2 ? 120 : 0,
      toolEvery: 3,
      deltas: 1,
      text: textOf(r),
    });
  return store;
}

/** Queries drawn from the vocabulary: common, rare, several words (sums of three or more terms), canned text. */
function queries(n: number): string[] {
  const r = rng(99);
  const out = ["deploys kubernetes", "the same canned answer about deploys", "ok", "nothing-matches-this"];
  for (let i = 0; i < n; i++) out.push(sentence(r, 1 + Math.floor(r() * 5)));
  return out;
}

async function expectSame(store: JsonlSessionStore, qs: readonly string[], limit = 10): Promise<void> {
  for (const q of qs) {
    const expected = await searchSessions(store, q, { limit });
    expect({ q, hits: await store.search(q, { limit }) }).toEqual({ q, hits: expected });
  }
}

describe("indexed search equals the full scan", () => {
  test("on a generated corpus, as it grows, loses sessions, compacts and is cut by a crash", async () => {
    await using tmp = await tempDir();
    const store = await corpus(tmp.path, 6, 300);
    const qs = queries(30);
    await expectSame(store, qs);
    await expectSame(store, qs.slice(0, 10), 1);
    await expectSame(store, qs.slice(0, 10), 200);

    const r = rng(3);
    const more: NewRecord[] = [];
    for (let i = 0; i < 50; i++) more.push({ kind: "message", message: { role: "user", content: sentence(r, 12) } });
    await store.append(2, more);
    await store.append(5, [
      { kind: "compaction", summary: "deploys kubernetes summary", tokensBefore: 9, tokensAfter: 1 },
    ]);
    expect(await store.delete(3)).toBe(true);
    const fresh = await store.create({ agent: "crab", createdBy: "t" });
    await store.append(fresh.id, [{ kind: "message", message: { role: "assistant", content: qs[5]! } }]);
    await expectSame(store, qs);

    // A crash mid-append: a torn line, then (after the repair a later append makes) new lines over its bytes.
    await store.close();
    appendFileSync(join(tmp.path, "4.jsonl"), '{"ts":1,"kind":"message","message":{"role":"user","content":"torn');
    const after = await JsonlSessionStore.open(tmp.path, { fsync: "none" });
    await expectSame(after, qs.slice(0, 10));
    await after.append(4, [{ kind: "message", message: { role: "user", content: `${qs[6]} after the crash` } }]);
    await expectSame(after, qs);
    await after.close();
  }, 60_000);

  test("the index saved on close is used after a restart and stays equal", async () => {
    await using tmp = await tempDir();
    const store = await corpus(tmp.path, 4, 200);
    const qs = queries(15);
    await expectSame(store, qs);
    await store.close();
    const before = readFileSync(join(tmp.path, INDEX_FILE));
    const reopened = await JsonlSessionStore.open(tmp.path, { fsync: "none" });
    await expectSame(reopened, qs);
    // Nothing changed: the saved index was read, not rewritten.
    expect(readFileSync(join(tmp.path, INDEX_FILE)).equals(before)).toBe(true);
    await reopened.close();
  }, 60_000);

  const spoilers: [string, (path: string) => void][] = [
    ["garbage", (p) => writeFileSync(p, "not an index at all")],
    ["cut short", (p) => truncateSync(p, Math.floor(readFileSync(p).length / 2))],
    [
      "a flipped byte in the postings",
      (p) => {
        const b = readFileSync(p);
        const at = Math.floor(b.length / 2);
        b[at] = b[at]! ^ 0x40;
        writeFileSync(p, b);
      },
    ],
    [
      "another version",
      (p) => {
        const b = readFileSync(p);
        writeFileSync(p, Buffer.from(b.toString("latin1").replace('{"v":1,', '{"v":7,'), "latin1"));
      },
    ],
  ];
  for (const [name, spoil] of spoilers) {
    test(`an index file that is ${name} is rebuilt, never an error`, async () => {
      await using tmp = await tempDir();
      const store = await corpus(tmp.path, 3, 120);
      const qs = queries(8);
      await store.search(qs[0]!);
      await store.close();
      spoil(join(tmp.path, INDEX_FILE));
      expect(await readSegment(join(tmp.path, INDEX_FILE))).toBeUndefined();
      const reopened = await JsonlSessionStore.open(tmp.path, { fsync: "none" });
      await expectSame(reopened, qs);
      await reopened.close();
      expect((await readSegment(join(tmp.path, INDEX_FILE)))?.n).toBeGreaterThan(0);
    }, 60_000);
  }

  test("a history larger than the delta bound is saved part-way and stays equal", async () => {
    await using tmp = await tempDir();
    const store = await corpus(tmp.path, 3, 400);
    const { sessions } = await store.list({ offset: 0, limit: 100 });
    // Small merge ranges: the segment is read back in many ranges, into a reused buffer.
    const index = new SearchIndex(tmp.path, { saveAfterDocs: 97, mergeRange: 50 });
    for (const q of queries(12)) {
      const expected = await searchSessions(store, q, { limit: 10 });
      expect(await index.search(sessions, queryTerms(q), 10)).toEqual(expected);
    }
    await index.close();
    const again = new SearchIndex(tmp.path);
    for (const q of queries(12))
      expect(await again.search(sessions, queryTerms(q), 10)).toEqual(await searchSessions(store, q, { limit: 10 }));
    await store.close();
  }, 60_000);

  test("an indexing pass opens each session file once", async () => {
    await using tmp = await tempDir();
    const store = await corpus(tmp.path, 4, 60);
    const { sessions } = await store.list({ offset: 0, limit: 100 });
    const index = new SearchIndex(tmp.path);
    const open = spyOn(fsp, "open");
    const opened = (): string[] =>
      open.mock.calls
        .map((c) => String(c[0]))
        .filter((p) => p.endsWith(".jsonl"))
        .map((p) => p.slice(tmp.path.length + 1));
    try {
      // A query that matches nothing: no snippet is read, so every open of a session file is the indexing pass's.
      expect(await index.search(sessions, queryTerms("nothing-matches-this"), 10)).toEqual([]);
      expect(opened().sort()).toEqual(sessions.map((s) => `${s.id}.jsonl`).sort());
      await store.append(sessions[1]!.id, [{ kind: "message", message: { role: "user", content: "fresh words" } }]);
      index.touch(sessions[1]!.id);
      const expected = await searchSessions(store, "fresh words", { limit: 10 });
      open.mockClear(); // the reference scan above opened every file
      expect(await index.search(sessions, queryTerms("nothing-matches-this"), 10)).toEqual([]);
      expect(opened()).toEqual([`${sessions[1]!.id}.jsonl`]);
      expect(await index.search(sessions, queryTerms("fresh words"), 10)).toEqual(expected);
    } finally {
      open.mockRestore();
      await index.close();
      await store.close();
    }
  }, 60_000);
});
