/**
 * Normalization throughput: recorded provider streams pushed through the SSE
 * parser and the wire normalizer in memory (no HTTP), against `JSON.parse`
 * of the same data payloads alone, in the same run. The ratio says how much
 * the whole provider path costs over the parsing it cannot avoid.
 *
 * Run: bun bench/provider-normalize.ts [rounds]
 * Each round replays every stream REPEAT times in 512-byte reads (a typical
 * network read size); figures are medians over the rounds.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AnthropicNormalizer } from "../src/provider/anthropic.ts";
import { OpenAIChatNormalizer } from "../src/provider/openai-chat.ts";
import type { WireNormalizer } from "../src/provider/run.ts";
import { SseParser, parseSse } from "../src/provider/sse.ts";
import type { Emit } from "../src/provider/turn.ts";

const FIXTURES = join(import.meta.dir, "..", "test", "fixtures", "providers");
const READ_SIZE = 512;
const REPEAT = 200;
const ROUNDS = Number(process.argv[2] ?? 15);

interface Stream {
  name: string;
  reads: Uint8Array[];
  payloads: string[];
  make: (emit: Emit) => WireNormalizer;
}

function load(file: string, make: (emit: Emit) => WireNormalizer): Stream {
  const bytes = readFileSync(join(FIXTURES, file));
  const reads: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += READ_SIZE) reads.push(bytes.subarray(i, i + READ_SIZE));
  const payloads = parseSse(bytes.toString("utf8"))
    .map((e) => e.data)
    .filter((d) => d !== "[DONE]");
  return { name: file, reads, payloads, make };
}

const openai = (emit: Emit) => new OpenAIChatNormalizer("m", emit);
const anthropic = (emit: Emit) => new AnthropicNormalizer("m", emit);
const GROUPS: { label: string; streams: Stream[] }[] = [
  {
    label: "chat completions (12 recordings)",
    streams: [
      "openai/chat-text-gpt-4o-2024-09.sse",
      "openai/chat-text-gpt-4o-2026-06.sse",
      "openai/chat-tool-call-single-gpt-4o-2024-09.sse",
      "openai/chat-tool-calls-parallel-gpt-4o-2024-09.sse",
      "openai/chat-tool-calls-parallel-gpt-4o-2026-06.sse",
      "openai/chat-tool-calls-parallel-gpt-5-2026-06.sse",
      "openai/chat-n3-multiple-choices-2024-09.sse",
      "openai/chat-finish-length-2024-09.sse",
      "openai/chat-refusal-2024-09.sse",
      "deepseek/chat-deepseek-reasoner-reasoning-content.sse",
      "deepseek/chat-deepseek-v4-pro-reasoning-content.sse",
      "deepseek/chat-deepseek-reasoner-reasoning-then-tool-call.sse",
    ].map((f) => load(f, openai)),
  },
  {
    label: "anthropic messages (6 recordings)",
    streams: [
      "anthropic/messages-text.sse",
      "anthropic/messages-thinking-then-text.sse",
      "anthropic/messages-thinking-then-tool-use.sse",
      "anthropic/messages-redacted-thinking.sse",
      "anthropic/messages-tool-use.sse",
      "anthropic/messages-tool-use-parallel.sse",
    ].map((f) => load(f, anthropic)),
  },
];

/** One round of the full path; returns [seconds, provider events emitted, SSE events parsed]. */
function normalizeRound(streams: Stream[]): [number, number, number] {
  let events = 0;
  let sse = 0;
  const emit: Emit = () => void events++;
  const start = performance.now();
  for (let r = 0; r < REPEAT; r++) {
    for (const s of streams) {
      const norm = s.make(emit);
      norm.turn.start();
      const parser = new SseParser();
      for (const read of s.reads) {
        for (const ev of parser.push(read)) {
          sse++;
          norm.handle(ev);
        }
      }
      for (const ev of parser.finish()) norm.handle(ev);
      norm.end();
    }
  }
  return [(performance.now() - start) / 1000, events, sse];
}

/** The same payloads through JSON.parse alone; returns [seconds, payloads]. */
function jsonRound(streams: Stream[]): [number, number] {
  let n = 0;
  let sink = 0;
  const start = performance.now();
  for (let r = 0; r < REPEAT; r++) {
    for (const s of streams) {
      for (const p of s.payloads) {
        const v: unknown = JSON.parse(p);
        if (v !== null) sink++;
        n++;
      }
    }
  }
  if (sink < 0) console.log(sink);
  return [(performance.now() - start) / 1000, n];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

console.log(`provider normalization: ${ROUNDS} rounds x ${REPEAT} replays, ${READ_SIZE}-byte reads, medians\n`);
const rows: string[][] = [
  ["stream set", "provider events/s", "SSE events/s", "JSON.parse payloads/s", "time ratio (full path / JSON.parse)"],
];
for (const group of GROUPS) {
  // Warm-up so the JIT has compiled both paths before timing.
  normalizeRound(group.streams);
  jsonRound(group.streams);
  const evRate: number[] = [];
  const sseRate: number[] = [];
  const jsonRate: number[] = [];
  const ratio: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const [tn, events, sse] = normalizeRound(group.streams);
    const [tj, payloads] = jsonRound(group.streams);
    evRate.push(events / tn);
    sseRate.push(sse / tn);
    jsonRate.push(payloads / tj);
    ratio.push(tn / tj);
  }
  rows.push([
    group.label,
    fmt(median(evRate)),
    fmt(median(sseRate)),
    fmt(median(jsonRate)),
    `${median(ratio).toFixed(2)}x`,
  ]);
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const [i, row] of rows.entries()) {
  console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
