/**
 * Memory under huge streams, `bun bench/big-streams.ts [--short]`: six
 * clients each stream a 16 MB answer at once from a fake provider on
 * loopback (deltas of DELTA_CHARS characters, written as fast as the daemon
 * takes them) and read as fast as they can; then one 60,000-delta turn
 * alone. The daemon's VmRSS is sampled every 25 ms (and VmHWM read) during
 * each case, and for SETTLE_MS after (a minute; 10 s with --short).
 *
 * Targets (issue 20): peak growth over the idle daemon at most 2× the text
 * in flight (6 × 16 MB → 192 MB), and RSS within 20% of idle a minute
 * after. Every answer is checked byte for byte (length and SHA-256 of what
 * each client received against what the provider sent), so a cheaper
 * daemon that loses text fails here.
 *
 * BEFORE/AFTER: set CRABTALK_BASELINE_BIN to another build (e.g. main's) to
 * run the same cases on it first, in the same run; its rows are printed and
 * reported beside the current binary's (dist/crabtalk or $CRABTALK_BIN).
 */
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import type { CrabtalkClient } from "../src/client/client.ts";
import { binaryPath, tempHome } from "../test/helpers/daemon.ts";
import { FakeProvider } from "../test/helpers/fake-provider.ts";
import { floodSse, lastUserText } from "../test/helpers/turn-kit.ts";
import { hwmMb, mb, reliabilityConfig, rssMb, settledRss, startQuietDaemon } from "./reliability/common.ts";
import { reportTargets, type TargetRow } from "./targets.ts";

const short = process.argv.includes("--short");
const STREAMS = 6;
const ANSWER_BYTES = 16 * 1024 * 1024;
/** About 30 tokens per delta: what fast providers send when they batch; smaller deltas only make the run longer. */
const DELTA_CHARS = 128;
const BIG_DELTAS = Math.ceil(ANSWER_BYTES / DELTA_CHARS);
const LONG_DELTAS = 60_000;
const LONG_DELTA_CHARS = 64;
/**
 * The provider writes PACE_DELTAS deltas every PACE_MS: about 1.2 MB/s per
 * stream, 7 MB/s for six, far above any model. Unpaced, the bench's own
 * clients (in this process, beside the fake provider, on a 2-core machine)
 * fall 8 MB behind and the daemon drops them as slow readers, which is its
 * policy, not what this bench measures.
 */
const PACE_DELTAS = 100;
const PACE_MS = 10;
const SETTLE_MS = short ? 10_000 : 60_000;
const SAMPLE_MS = 25;

/** The text floodSse(count, size) streams, delta by delta (without building it whole). */
function* deltasOf(count: number, size: number): Generator<string> {
  for (let i = 0; i < count; i++) {
    const label = `#${i}:`;
    yield label + "x".repeat(Math.max(0, size - label.length));
  }
}

function digestOf(count: number, size: number): { hash: string; length: number } {
  const h = createHash("sha256");
  let length = 0;
  for (const d of deltasOf(count, size)) {
    h.update(d);
    length += d.length;
  }
  return { hash: h.digest("hex"), length };
}

/** Samples VmRSS until stopped; the peak seen and every sample. */
function sampler(pid: number): { stop(): Promise<{ peak: number; samples: number[] }> } {
  const samples: number[] = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      samples.push(rssMb(pid));
      await Bun.sleep(SAMPLE_MS);
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      return { peak: Math.max(...samples), samples };
    },
  };
}

/** One streamed turn read as fast as the client can; returns what arrived as length and SHA-256. */
async function readTurn(c: CrabtalkClient, content: string): Promise<{ hash: string; length: number; stop: string }> {
  const h = createHash("sha256");
  let length = 0;
  let stop = "";
  for await (const reply of c.stream({ stream: { agent: "crab", content } })) {
    if (reply.error) throw new Error(`turn "${content}": ${reply.error.message}`);
    const e = reply.stream;
    if (e?.chunk) {
      h.update(e.chunk.content);
      length += e.chunk.content.length;
    }
    if (e?.end) stop = e.end.stopReason;
  }
  return { hash: h.digest("hex"), length, stop };
}

interface CaseResult {
  idle: number;
  peak: number;
  hwm: number;
  after: number;
  seconds: number;
  exact: boolean;
}

async function measure(bin: string, label: string): Promise<{ big: CaseResult; long: CaseResult }> {
  await using fake = await FakeProvider.start();
  fake.route((req) => {
    const prompt = lastUserText(req);
    if (prompt === "warm") return { kind: "generate", chunks: () => floodSse(10, 10, 200) };
    if (prompt.startsWith("big"))
      return { kind: "generate", chunks: () => floodSse(BIG_DELTAS, DELTA_CHARS, PACE_DELTAS), chunkDelayMs: PACE_MS };
    return {
      kind: "generate",
      chunks: () => floodSse(LONG_DELTAS, LONG_DELTA_CHARS, PACE_DELTAS),
      chunkDelayMs: PACE_MS,
    };
  });
  const home = tempHome("crabtalk-bench-big-");
  process.env.CRABTALK_BIN = bin;
  try {
    await using d = await startQuietDaemon({ home, config: reliabilityConfig(fake.url) });
    const pid = d.proc.pid;
    const clients: CrabtalkClient[] = [];
    for (let i = 0; i < STREAMS; i++) clients.push(await d.client());
    // A turn first, so the idle figure includes what any first turn loads (provider code, the store).
    await readTurn(clients[0]!, "warm");
    console.log(`${label}: idle after a warm-up turn ${mb(await settledRss(pid))}`);
    const bigWant = digestOf(BIG_DELTAS, DELTA_CHARS);
    const longWant = digestOf(LONG_DELTAS, LONG_DELTA_CHARS);

    async function run(contents: string[], want: { hash: string; length: number }): Promise<CaseResult> {
      await Bun.sleep(2000);
      const idle = await settledRss(pid, 9, 200);
      const s = sampler(pid);
      const t0 = performance.now();
      const got = await Promise.all(contents.map((content, i) => readTurn(clients[i]!, content)));
      const seconds = (performance.now() - t0) / 1000;
      const during = await s.stop();
      const hwm = hwmMb(pid);
      const settle = sampler(pid);
      await Bun.sleep(SETTLE_MS);
      const { samples } = await settle.stop();
      // What the daemon holds a minute on: the median of the last second's samples.
      const last = samples.slice(-Math.ceil(1000 / SAMPLE_MS)).sort((a, b) => a - b);
      const after = last[Math.floor(last.length / 2)]!;
      const exact = got.every((g) => g.stop === "stop" && g.hash === want.hash && g.length === want.length);
      console.log(
        `${label}: ${contents.length} × ${(want.length / 1048576).toFixed(1)} MB in ${seconds.toFixed(1)} s; idle ${mb(idle)}, peak ${mb(during.peak)} (VmHWM ${mb(hwm)}), ${SETTLE_MS / 1000} s after ${mb(after)}; text exact: ${exact}`,
      );
      return { idle, peak: during.peak, hwm, after, seconds, exact };
    }

    let finished = false;
    void d.proc.exited.then((code) => {
      if (!finished) console.error(`${label}: the daemon exited (${code}) during the run: ${d.stderr().slice(-3000)}`);
    });
    const big = await run(
      Array.from({ length: STREAMS }, (_, i) => `big ${i}`),
      bigWant,
    );
    const long = await run(["long"], longWant);
    finished = true;
    for (const c of clients) c.close();
    return { big, long };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

function rows(tag: string, r: { big: CaseResult; long: CaseResult }): TargetRow[] {
  const inFlight = (STREAMS * ANSWER_BYTES) / 1048576;
  const growth = r.big.peak - r.big.idle;
  return [
    {
      figure: `${tag}six 16 MB streams: peak RSS growth`,
      value: growth,
      unit: "MB",
      baseline: "text in flight",
      baselineValue: inFlight,
      ratio: growth / inFlight,
      target: "≤ 2.0× text in flight",
      pass: growth <= 2 * inFlight && r.big.exact,
    },
    {
      figure: `${tag}six 16 MB streams: RSS ${SETTLE_MS / 1000} s after`,
      value: r.big.after,
      unit: "MB",
      baseline: "idle",
      baselineValue: r.big.idle,
      ratio: r.big.after / r.big.idle,
      target: "≤ 1.2× idle",
      pass: r.big.after <= 1.2 * r.big.idle,
    },
    {
      figure: `${tag}one ${LONG_DELTAS}-delta turn: peak RSS growth`,
      value: r.long.peak - r.long.idle,
      unit: "MB",
      baseline: "text",
      baselineValue: (LONG_DELTAS * LONG_DELTA_CHARS) / 1048576,
      ratio: (r.long.peak - r.long.idle) / ((LONG_DELTAS * LONG_DELTA_CHARS) / 1048576),
      target: "report (no target)",
      pass: r.long.exact,
    },
  ];
}

const all: TargetRow[] = [];
const current = binaryPath();
const baselineBin = process.env.CRABTALK_BASELINE_BIN;
if (baselineBin) {
  const before = await measure(baselineBin, "BEFORE");
  // The baseline's rows are reported, never judged: they show where the current binary started.
  all.push(...rows("BEFORE ", before).map((r) => ({ ...r, target: "(baseline build)", pass: true })));
}
const after = await measure(current, baselineBin ? "AFTER" : "current");
all.push(...rows(baselineBin ? "AFTER " : "", after));
reportTargets("big-streams", all);
process.exit(all.every((r) => r.pass) ? 0 : 1);
