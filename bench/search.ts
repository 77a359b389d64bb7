/**
 * Search benchmark through the whole daemon, `bun bench/search.ts`: the
 * compiled binary (dist/crabtalk or $CRABTALK_BIN) in a temporary home over
 * 100,000 messages (100 sessions of 1,000, skewed vocabulary, tool calls and
 * trace events as the runtime writes them), SearchSessionsMsg over the
 * socket as `crabtalk sessions search` sends it. Figures:
 * - the very first query on a history never indexed (the index is built);
 * - cold: the first query after a daemon start with the saved index (median
 *   of three starts);
 * - warm: the median of 30 different queries after that;
 * - the index: its file size, and the daemon's RSS before the first query
 *   and after the warm queries; the in-memory part counted in this process.
 * $CRABTALK_BEFORE_BIN runs the same against that binary (a build of main:
 * a full scan per query; fewer warm samples, each takes seconds) and prints
 * BEFORE / AFTER. The corpus is generated once through the store's writer
 * and cached under .tmp/bench-search-v1/.
 */
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CrabtalkClient } from "../src/client/client.ts";
import { JsonlSessionStore } from "../src/store/jsonl.ts";
import { INDEX_FILE } from "../src/store/search-index-file.ts";
import { binaryPath, startDaemon } from "../test/helpers/daemon.ts";
import { writeLongSession } from "../test/helpers/session-gen.ts";
import { rssOf } from "../test/helpers/turn-kit.ts";
import { reportTargets } from "./targets.ts";
import { median } from "./stats.ts";
import { rng } from "../test/helpers/seeded.ts";

const SESSIONS = 100;
const PER_SESSION = 1000;
const CACHE = join(import.meta.dir, "..", ".tmp", "bench-search-v1");

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;

const vocabRandom = rng(1);
const VOCAB = Array.from({ length: 20_000 }, () => Math.floor(vocabRandom() * 36 ** 7).toString(36));
const sentence = (r: () => number, words: number): string =>
  Array.from({ length: words }, () => (r() < 0.15 ? "the" : VOCAB[Math.floor(VOCAB.length * r() ** 2.5)]!)).join(" ");

async function corpus(): Promise<void> {
  if (existsSync(join(CACHE, `${SESSIONS}.jsonl`))) return;
  const t = performance.now();
  const tmp = `${CACHE}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  const store = await JsonlSessionStore.open(tmp, { fsync: "none" });
  const r = rng(2);
  for (let s = 0; s < SESSIONS; s++)
    await writeLongSession(store, {
      messages: PER_SESSION,
      toolEvery: 4,
      deltas: 2,
      batchTurns: 100,
      text: (_, role) => sentence(r, role === "user" ? 5 + Math.floor(r() * 20) : 20 + Math.floor(r() * 80)),
    });
  await store.close();
  rmSync(CACHE, { recursive: true, force: true });
  renameSync(tmp, CACHE);
  console.log(`generated ${SESSIONS * PER_SESSION} messages in ${Math.round(performance.now() - t)} ms (${CACHE})`);
}

function queries(n: number): string[] {
  const r = rng(3);
  return Array.from({ length: n }, () => sentence(r, 1 + Math.floor(r() * 3)).replace(/\bthe\b ?/g, "") || VOCAB[0]!);
}

async function timed(c: CrabtalkClient, query: string): Promise<number> {
  const t = performance.now();
  const reply = await c.request({ searchSessions: { query, limit: 20 } });
  if (!reply.searchResults) throw new Error(`search answered ${JSON.stringify(reply)}`);
  return performance.now() - t;
}

interface Result {
  first: number;
  cold: number;
  warm: number;
  rssIdle: number;
  rssAfter: number;
}

async function measure(bin: string, warmSamples: number, starts: number): Promise<Result> {
  const home = mkdtempSync(join(tmpdir(), "crabtalk-bench-search-"));
  try {
    cpSync(CACHE, join(home, "sessions"), { recursive: true });
    writeFileSync(join(home, "crabtalk.toml"), "[daemon]\ntcp = false\n");
    process.env.CRABTALK_BIN = bin;
    const qs = queries(warmSamples + starts + 1);
    let first = 0;
    const cold: number[] = [];
    let rssIdle = 0;
    let rssAfter = 0;
    let warm: number[] = [];
    for (let start = 0; start <= starts; start++) {
      const d = await startDaemon({ home });
      const c = await d.client();
      await c.request({ status: {} });
      rssIdle = rssOf(d.proc.pid);
      const t = await timed(c, qs[start]!);
      if (start === 0) first = t;
      else cold.push(t);
      if (start === starts) {
        warm = [];
        for (let i = 0; i < warmSamples; i++) warm.push(await timed(c, qs[starts + 1 + i]!));
        rssAfter = rssOf(d.proc.pid);
      }
      c.close();
      await d.stop();
    }
    return { first, cold: median(cold), warm: median(warm), rssIdle, rssAfter };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

await corpus();
const before = process.env.CRABTALK_BEFORE_BIN;
const after = binaryPath();
const runs: [string, Result][] = [];
if (before) runs.push(["before", await measure(before, 5, 1)]);
runs.push(["after", await measure(after, 30, 3)]);

// The index's in-memory part, counted in this process over the same corpus (a copy, so the cache stays unindexed).
const copy = mkdtempSync(join(tmpdir(), "crabtalk-bench-search-mem-"));
cpSync(CACHE, copy, { recursive: true });
const store = await JsonlSessionStore.open(copy, { fsync: "none" });
const tBuild = performance.now();
await store.search(queries(1)[0]!);
const build = performance.now() - tBuild;
await store.close();
const reopened = await JsonlSessionStore.open(copy, { fsync: "none" });
await reopened.search(queries(1)[0]!);
const heap = reopened.searchIndexBytes();
const disk = statSync(join(copy, INDEX_FILE)).size;
await reopened.close();
rmSync(copy, { recursive: true, force: true });

console.log(`\nsessions search over ${(SESSIONS * PER_SESSION).toLocaleString("en-US")} messages (limit 20):`);
for (const [label, r] of runs) {
  console.log(
    `  ${label.padEnd(6)} first ever ${r.first.toFixed(1)} ms, cold ${r.cold.toFixed(1)} ms, warm median ${r.warm.toFixed(2)} ms; daemon RSS ${mb(r.rssIdle)} idle -> ${mb(r.rssAfter)} after searching`,
  );
}
console.log(
  `  index: ${mb(disk)} on disk, ${mb(heap)} in memory (docs, terms, counts); built in ${Math.round(build)} ms in-process`,
);

const now = runs.at(-1)![1];
const base = runs.length > 1 ? runs[0]![1] : undefined;
reportTargets("search", [
  {
    figure: "sessions search, 100k msgs, warm median",
    value: now.warm,
    unit: "ms",
    baseline: base ? "full scan (before)" : "none measured",
    baselineValue: base?.warm ?? Number.NaN,
    ratio: base ? now.warm / base.warm : Number.NaN,
    target: "≤ 50 ms",
    pass: now.warm <= 50,
  },
  {
    figure: "sessions search, 100k msgs, cold (first after start)",
    value: now.cold,
    unit: "ms",
    baseline: base ? "full scan (before)" : "none measured",
    baselineValue: base?.cold ?? Number.NaN,
    ratio: base ? now.cold / base.cold : Number.NaN,
    target: "≤ 500 ms",
    pass: now.cold <= 500,
  },
]);
