/**
 * Target rows: the one shape every benchmark with a target reports in, so
 * `npm run bench` can print a single table of figure / baseline / ratio /
 * target / pass across all of them and keep it as JSON for comparing runs.
 *
 * A benchmark calls `reportTargets("startup", rows)` once at its end: it
 * prints the rows and writes bench/results/targets-<bench>.json (gitignored);
 * bench/run.ts gathers the files written during its run into one table and
 * one bench/results/bench-<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TargetRow {
  /** What was measured, e.g. "exec → socket accepting (median)". */
  figure: string;
  value: number;
  unit: string;
  /** What it is compared with, measured in the same run, e.g. "floor program". */
  baseline: string;
  baselineValue: number;
  /** value / baselineValue (or another stated ratio); NaN when there is no baseline. */
  ratio: number;
  /** Human form of the target, e.g. "≤ 1.0× floor" or "≤ 50 ms". */
  target: string;
  pass: boolean;
}

export const RESULTS_DIR = join(import.meta.dir, "results");

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "-";
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function formatTargetTable(rows: readonly (TargetRow & { bench?: string })[]): string {
  const header = ["figure", "value", "baseline", "ratio", "target", "result"];
  const body = rows.map((r) => [
    r.bench ? `${r.bench}: ${r.figure}` : r.figure,
    `${fmt(r.value)} ${r.unit}`,
    Number.isFinite(r.baselineValue) ? `${fmt(r.baselineValue)} ${r.unit} (${r.baseline})` : r.baseline,
    Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : "-",
    r.target,
    r.pass ? "pass" : "FAIL",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** Prints the rows and writes bench/results/targets-<bench>.json for bench/run.ts to gather. */
export function reportTargets(bench: string, rows: readonly TargetRow[]): void {
  console.log(`\n${bench}: targets`);
  console.log(formatTargetTable(rows));
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(
    join(RESULTS_DIR, `targets-${bench}.json`),
    `${JSON.stringify({ bench, at: new Date().toISOString(), rows }, null, 2)}\n`,
  );
}
