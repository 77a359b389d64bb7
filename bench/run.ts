/**
 * Runs every benchmark in sequence (`npm run bench`), each in its own
 * process so one's garbage cannot skew the next. Each prints its own table
 * of medians and ratios against a baseline measured in the same run; at the
 * end, the target rows every bench wrote during this run
 * (bench/results/targets-*.json, see targets.ts) are printed as ONE table and
 * kept as bench/results/bench-<timestamp>.json, so two runs can be compared:
 *
 *   bun bench/run.ts [name-prefix ...]
 *   bun bench/run.ts --compare bench/results/bench-A.json bench/results/bench-B.json
 *
 * The reliability suite is separate: `npm run reliability`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatTargetTable, RESULTS_DIR, type TargetRow } from "./targets.ts";

// One bench per line, so helpers adding one merge cleanly.
const BENCHES = [
  "startup.ts",
  "core.ts",
  "provider-normalize.ts",
  "turn-latency.ts",
  "replay.ts",
  "resume.ts",
  "store.ts",
  "search.ts",
  "idle-sessions-rss.ts",
  "big-streams.ts",
  "mcp.ts",
  "memory.ts",
  "ext.ts",
  "delegation.ts",
  "acp.ts",
  "sdk.ts",
  "remote.ts",
  "cron.ts",
  "telegram.ts",
  "dashboard.ts",
];

type BenchRow = TargetRow & { bench: string };

interface RunFile {
  at: string;
  rows: BenchRow[];
  failedBenches: string[];
}

/** Target rows of every targets-*.json written at or after `since` (ms since epoch). */
function gatherRows(since: number): BenchRow[] {
  if (!existsSync(RESULTS_DIR)) return [];
  const rows: BenchRow[] = [];
  for (const name of readdirSync(RESULTS_DIR).sort()) {
    if (!/^targets-.+\.json$/.test(name)) continue;
    const path = join(RESULTS_DIR, name);
    if (statSync(path).mtimeMs < since) continue;
    const file = JSON.parse(readFileSync(path, "utf8")) as { bench: string; rows: TargetRow[] };
    for (const r of file.rows) rows.push({ ...r, bench: file.bench });
  }
  return rows;
}

function readRun(path: string): RunFile {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as RunFile;
  } catch (err) {
    throw new Error(`cannot read ${path} as a bench run (bench/results/bench-<timestamp>.json): ${String(err)}`);
  }
}

/** Both runs' rows side by side, matched on bench and figure; JSON null stands for a missing number. */
function compare(aPath: string, bPath: string): void {
  const a = readRun(aPath);
  const b = readRun(bPath);
  const key = (r: BenchRow) => `${r.bench}: ${r.figure}`;
  const keys = [...new Set([...a.rows.map(key), ...b.rows.map(key)])];
  const num = (n: number | null | undefined, digits: number) =>
    typeof n === "number" && Number.isFinite(n) ? n.toFixed(digits) : "-";
  const cell = (r: BenchRow | undefined) =>
    r ? `${num(r.value, 1)} ${r.unit} ${num(r.ratio, 2)}× ${r.pass ? "pass" : "FAIL"}` : "(absent)";
  const body = keys.map((k) => [k, cell(a.rows.find((r) => key(r) === k)), cell(b.rows.find((r) => key(r) === k))]);
  const header = ["figure", `A ${a.at}`, `B ${b.at}`];
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log([line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n"));
}

const args = process.argv.slice(2);
if (args[0] === "--compare") {
  if (args.length !== 3) {
    console.error("usage: bun bench/run.ts --compare A.json B.json (files under bench/results/)");
    process.exit(2);
  }
  compare(args[1]!, args[2]!);
  process.exit(0);
}

const startedAt = Date.now();
const failedBenches: string[] = [];
for (const file of BENCHES) {
  if (args.length > 0 && !args.some((o) => file.startsWith(o))) continue;
  const path = join(import.meta.dir, file);
  if (!existsSync(path)) continue;
  console.log(`\n### bench/${file}`);
  const proc = Bun.spawn([process.execPath, path], { stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) {
    failedBenches.push(file);
    console.error(`bench/${file} failed`);
  }
}

const rows = gatherRows(startedAt);
const at = new Date().toISOString();
console.log(`\n### targets (${rows.length} rows from this run)`);
console.log(rows.length > 0 ? formatTargetTable(rows) : "(no bench reported targets)");
mkdirSync(RESULTS_DIR, { recursive: true });
const out = join(RESULTS_DIR, `bench-${at.replace(/[:.]/g, "-")}.json`);
const run: RunFile = { at, rows, failedBenches };
writeFileSync(out, `${JSON.stringify(run, null, 2)}\n`);
console.log(`\nall rows: ${out}${failedBenches.length > 0 ? `\nfailed: ${failedBenches.join(", ")}` : ""}`);
process.exit(failedBenches.length === 0 ? 0 : 1);
