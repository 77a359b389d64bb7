/**
 * Memory benchmark, `bun bench/memory.ts`. At 100, 1,000 and 10,000
 * entries (files of about 40 words drawn from a skewed vocabulary):
 * - loading the memory as the daemon does at its first read (readdir,
 *   stat, read, YAML frontmatter, index every entry);
 * - recall latency, median and p99 of 200 two-word queries (one in four a
 *   `term*` prefix query), as the recall tool runs it: including the
 *   rescan that makes hand edits visible (a stat per entry);
 * - the BM25 search alone on the same documents (util/bm25.ts), to show
 *   what the rescan costs;
 * - one remember (atomic write: temp file, fsync, rename, fsync folder).
 * The Rust original answered recall in about 0.3 ms at 100 entries.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore } from "../src/memory/store.ts";
import { Bm25Index, parseQuery } from "../src/util/bm25.ts";
import { median, percentile, printTable } from "./stats.ts";

const SIZES = [100, 1_000, 10_000];
const QUERIES = 200;
const VOCAB = Array.from({ length: 5_000 }, (_, i) => `w${i.toString(36)}`);

/** Deterministic: the same corpus and queries every run. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    return s / 2_147_483_648;
  };
}

/** Skewed towards the first words (a few very common terms, a long tail of rare ones). */
function word(r: () => number): string {
  return VOCAB[Math.floor(VOCAB.length * r() ** 3)]!;
}

const ms = (x: number): string => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);

const root = await mkdtemp(join(tmpdir(), "crabtalk-bench-memory-"));
try {
  const rows: [string, string][] = [];
  for (const n of SIZES) {
    const dir = join(root, String(n));
    const r = rng(n);
    const docs: string[] = [];
    await Bun.$`mkdir -p ${dir}`.quiet();
    for (let i = 0; i < n; i++) {
      const content = Array.from({ length: 40 }, () => word(r)).join(" ");
      docs.push(`entry ${i}\nabout ${word(r)}\n${content}`);
      await writeFile(
        join(dir, `entry-${i}.md`),
        `---\nname: entry ${i}\ndescription: about ${word(r)}\n---\n\n${content}\n`,
      );
    }
    const queries = Array.from({ length: QUERIES }, (_, i) =>
      i % 4 === 0 ? `${word(r).slice(0, 3)}* ${word(r)}` : `${word(r)} ${word(r)}`,
    );

    let t = performance.now();
    const store = new MemoryStore(dir);
    await store.list();
    const load = performance.now() - t;

    const recall: number[] = [];
    for (const q of queries) {
      t = performance.now();
      await store.recall(q, 5);
      recall.push(performance.now() - t);
    }

    const index = new Bm25Index<number>();
    t = performance.now();
    for (const [i, d] of docs.entries()) index.add(i, d);
    const indexBuild = performance.now() - t;
    const search: number[] = [];
    for (const q of queries) {
      t = performance.now();
      index.search(parseQuery(q), 5);
      search.push(performance.now() - t);
    }

    const writes: number[] = [];
    for (let i = 0; i < 20; i++) {
      t = performance.now();
      await store.remember({ name: `bench ${i}`, description: "a write", content: `written ${i}` });
      writes.push(performance.now() - t);
    }

    const label = n.toLocaleString("en-US");
    rows.push(
      [`${label} entries: load at start`, ms(load)],
      [`${label} entries: recall median / p99`, `${ms(median(recall))} / ${ms(percentile(recall, 99))}`],
      [`${label} entries: BM25 alone median / p99`, `${ms(median(search))} / ${ms(percentile(search, 99))}`],
      [`${label} entries: BM25 index build (in memory)`, ms(indexBuild)],
      [`${label} entries: remember (atomic, fsync) median`, ms(median(writes))],
    );
  }
  printTable("memory: load, recall and write", rows);
} finally {
  await rm(root, { recursive: true, force: true });
}
