/**
 * Resume benchmark through the whole daemon, `bun bench/resume.ts`: the
 * compiled binary (dist/crabtalk or $CRABTALK_BIN) in a temporary home,
 * the fake provider as the model, a client over the Unix socket. The model
 * stand-in runs in this process and reads every request body to its end (a
 * real server must), but neither decodes, parses nor keeps it
 * (keepBodies: false): the never-compacted session's requests are 2.4 MB,
 * and parsing each here took ~4 ms of this process's time that no daemon
 * change can remove. In one run,
 * time from sending a StreamMsg to its first streamed token for:
 * - a new session (the baseline);
 * - a 10,000- and a 100,000-message session with compactions (one every
 *   1,000 messages, as the runtime writes them), resumed from disk (evicted
 *   with KillMsg before every sample, so each one reads the file);
 * - a 10,000-message session without any compaction that fits a 128k
 *   window (~95k tokens: the runtime compacts at 80% of the window, so no
 *   bigger 10k session stays uncompacted at gpt-4o's or DeepSeek's),
 *   resumed from disk;
 * - a 10,000-message session of 2.4 MB without any compaction (~600k
 *   tokens: only a ≥ 750k-token window keeps it), resumed from disk and
 *   while still in memory (its model request carries every message, so the
 *   in-memory resume is the floor for it); reported, not a target.
 * Also the first resume of the 100k session after the upgrade (no resume
 * checkpoint yet: one sample) and the append cost per message on the big
 * session against a fresh one.
 *
 * $CRABTALK_BEFORE_BIN (e.g. a build of main) runs the same samples against
 * that binary in the same run, interleaved, and prints BEFORE / AFTER.
 * Sessions are generated once through the store's writer
 * (test/helpers/session-gen.ts) and cached under .tmp/bench-resume-v2/.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CrabtalkClient } from "../src/client/client.ts";
import { JsonlSessionStore } from "../src/store/jsonl.ts";
import { FakeProvider, sseReply } from "../test/helpers/fake-provider.ts";
import { openaiSse } from "../test/helpers/sse-builders.ts";
import { binaryPath, type DaemonHandle, startDaemon } from "../test/helpers/daemon.ts";
import { writeLongSession } from "../test/helpers/session-gen.ts";
import { median } from "./stats.ts";
import { reportTargets, type TargetRow } from "./targets.ts";

/**
 * Samples per figure. Each is one turn's first token on a busy 2-core machine (new sessions from 1.9 to 14 ms
 * in one run), and the median of 21 put one build's never-compacted row anywhere from 1.47x to 2.33x between
 * runs; the median of 61 held it to 1.69x to 1.90x over five runs (~6 s a run). RESUME_SAMPLES overrides it.
 */
const SAMPLES = Number(process.env.RESUME_SAMPLES ?? 61);
const APPENDS = 100;
const CACHE = join(import.meta.dir, "..", ".tmp", "bench-resume-v2");

const ms = (x: number) => `${x.toFixed(2)} ms`;

interface Cached {
  plain10k: number;
  windowed10k: number;
  compacted10k: number;
  compacted100k: number;
}

/**
 * A never-compacted session as big as a 128k-token model lets one grow: the runtime compacts once the
 * provider reports a prompt past 80% of the window (0.8 × 128k ≈ 102k tokens ≈ 410 KB at 4 characters a
 * token), so 10,000 messages of ~38 characters (~95k tokens) is the largest a 10k session gets uncompacted
 * at gpt-4o's or DeepSeek's window.
 */
const windowedText = (i: number, role: "user" | "assistant"): string =>
  role === "user" ? `q ${i}: where do crabs sleep at night?` : `a ${i}: under rocks, near the tide line.`;

/** The four sessions, generated once (fsync off: setup, not measurement) and reused by later runs. */
async function cachedSessions(): Promise<Cached> {
  const ids = { plain10k: 1, compacted10k: 2, compacted100k: 3, windowed10k: 4 };
  if (existsSync(join(CACHE, "4.jsonl"))) return ids;
  const t = performance.now();
  const tmp = `${CACHE}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  const store = await JsonlSessionStore.open(tmp, { fsync: "none" });
  await writeLongSession(store, { messages: 10_000 });
  await writeLongSession(store, { messages: 10_000, compactEvery: 1000, toolEvery: 5, deltas: 3 });
  await writeLongSession(store, { messages: 100_000, compactEvery: 1000, toolEvery: 5, deltas: 3, batchTurns: 200 });
  await writeLongSession(store, { messages: 10_000, text: windowedText });
  await store.close();
  rmSync(CACHE, { recursive: true, force: true });
  renameSync(tmp, CACHE);
  console.log(`generated the sessions in ${Math.round(performance.now() - t)} ms (cached in ${CACHE})`);
  return ids;
}

/** Milliseconds from sending the request to the first chunk; the turn is then drained to its end. */
async function firstToken(c: CrabtalkClient, session?: number): Promise<number> {
  const t0 = performance.now();
  let first: number | undefined;
  for await (const reply of c.stream({
    stream: { agent: session ? "" : "crab", content: "one more thing", session },
  })) {
    if (first === undefined && reply.stream?.chunk) first = performance.now() - t0;
  }
  if (first === undefined) throw new Error("the turn streamed no token");
  return first;
}

interface Run {
  label: string;
  home: string;
  daemon: DaemonHandle;
  client: CrabtalkClient;
  fresh: number[];
  plainCold: number[];
  plainWarm: number[];
  windowedCold: number[];
  windowedWarm: number[];
  c10k: number[];
  c100k: number[];
  firstAfterUpgrade: number;
}

async function startRun(label: string, bin: string, fakeUrl: string, ids: Cached): Promise<Run> {
  const home = mkdtempSync(join(tmpdir(), "crabtalk-bench-resume-"));
  cpSync(CACHE, join(home, "sessions"), { recursive: true });
  writeFileSync(
    join(home, "crabtalk.toml"),
    `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${fakeUrl}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`,
  );
  process.env.CRABTALK_BIN = bin;
  const daemon = await startDaemon({ home });
  const client = await daemon.client();
  // Warm-up: code paths, the page cache and the provider connection.
  await firstToken(client);
  const firstAfterUpgrade = await firstToken(client, ids.compacted100k);
  await firstToken(client, ids.compacted10k);
  await firstToken(client, ids.plain10k);
  await firstToken(client, ids.windowed10k);
  return {
    label,
    home,
    daemon,
    client,
    fresh: [],
    plainCold: [],
    plainWarm: [],
    windowedCold: [],
    windowedWarm: [],
    c10k: [],
    c100k: [],
    firstAfterUpgrade,
  };
}

async function sample(r: Run, ids: Cached): Promise<void> {
  const kill = (session: number) => r.client.request({ kill: { session } });
  r.fresh.push(await firstToken(r.client));
  await kill(ids.compacted10k);
  r.c10k.push(await firstToken(r.client, ids.compacted10k));
  await kill(ids.compacted100k);
  r.c100k.push(await firstToken(r.client, ids.compacted100k));
  await kill(ids.plain10k);
  r.plainCold.push(await firstToken(r.client, ids.plain10k));
  r.plainWarm.push(await firstToken(r.client, ids.plain10k));
  await kill(ids.windowed10k);
  r.windowedCold.push(await firstToken(r.client, ids.windowed10k));
  r.windowedWarm.push(await firstToken(r.client, ids.windowed10k));
}

async function appendCost(store: JsonlSessionStore, id: number): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < APPENDS; i++) {
    const t = performance.now();
    await store.append(id, [{ kind: "message", message: { role: "user", content: `appended ${i}` } }]);
    out.push(performance.now() - t);
  }
  return median(out);
}

const ids = await cachedSessions();
const bytes100k = statSync(join(CACHE, `${ids.compacted100k}.jsonl`)).size;
await using fake = await FakeProvider.start({ keepBodies: false });
fake.route(() => sseReply(openaiSse({ text: "a short streamed answer", usage: { prompt: 10, completion: 5 } })));

const runs: Run[] = [];
try {
  const before = process.env.CRABTALK_BEFORE_BIN;
  const after = binaryPath();
  if (before) runs.push(await startRun("before", before, fake.url, ids));
  runs.push(await startRun("after", after, fake.url, ids));
  for (let i = 0; i < SAMPLES; i++) for (const r of runs) await sample(r, ids);

  const now = runs.at(-1)!;
  const sessionsDir = join(now.home, "sessions");
  now.client.close();
  await now.daemon.stop();
  const store = await JsonlSessionStore.open(sessionsDir);
  const small = await store.create({ agent: "crab", createdBy: "bench" });
  const appendFresh = await appendCost(store, small.id);
  const appendBig = await appendCost(store, ids.compacted100k);
  await store.close();
  const ckpts = readdirSync(sessionsDir).filter((n) => n.endsWith(".ckpt")).length;

  console.log(
    `\nfirst streamed token, median over ${SAMPLES} (100k session: ${(bytes100k / 1024 / 1024).toFixed(0)} MB on disk; ${ckpts} resume checkpoints; the model stand-in reads each request body to its end without parsing or keeping it):`,
  );
  for (const r of runs) {
    const base = median(r.fresh);
    const row = (name: string, xs: number[], vs = base, what = "new") =>
      console.log(
        `  ${r.label.padEnd(6)} ${name.padEnd(44)} ${ms(median(xs)).padStart(10)}  = ${(median(xs) / vs).toFixed(2)}x ${what}`,
      );
    console.log(`  ${r.label.padEnd(6)} ${"new session".padEnd(44)} ${ms(base).padStart(10)}`);
    row("resume 10k msgs, compacted, from disk", r.c10k);
    row("resume 100k msgs, compacted, from disk", r.c100k);
    row("resume 10k msgs, no compaction, in 128k window", r.windowedCold);
    row("  same, in memory", r.windowedWarm);
    row("resume 10k msgs, no compaction, 2.4 MB, from disk", r.plainCold);
    row("resume 10k msgs, no compaction, in memory", r.plainWarm);
    row("  from disk against in memory", r.plainCold, median(r.plainWarm), "in memory");
    console.log(
      `  ${r.label.padEnd(6)} ${"first resume of 100k msgs after start".padEnd(44)} ${ms(r.firstAfterUpgrade).padStart(10)} (one sample)`,
    );
  }
  console.log(
    `append per message (fdatasync each, median over ${APPENDS}): fresh ${(appendFresh * 1000).toFixed(0)} µs, 100k-message session ${(appendBig * 1000).toFixed(0)} µs = ${(appendBig / appendFresh).toFixed(2)}x`,
  );

  const base = median(now.fresh);
  const target = (figure: string, xs: number[], limit: number, vs = base, baseline = "new session"): TargetRow => {
    const value = median(xs);
    return {
      figure,
      value,
      unit: "ms",
      baseline,
      baselineValue: vs,
      ratio: value / vs,
      target: `≤ ${limit}× ${baseline}`,
      pass: value / vs <= limit,
    };
  };
  const report = (row: TargetRow): TargetRow => ({ ...row, target: "report (no target)", pass: true });
  reportTargets("resume", [
    target("first token, 10k-message session from disk", now.c10k, 2),
    target("first token, 100k-message session from disk", now.c100k, 3),
    target("first token, 10k msgs never compacted, ~95k tokens (fits a 128k window), from disk", now.windowedCold, 2),
    // 2.4 MB of history (~600k tokens): uncompacted only at a ≥ 750k-token window (gpt-4.1, gemini), where a
    // real provider's prefill takes seconds; reported, not a target (the note on issue 20 says why).
    report(target("first token, 10k msgs never compacted, 2.4 MB (~600k tokens), from disk", now.plainCold, 2)),
    report(target("same 2.4 MB session: disk vs memory", now.plainCold, 2, median(now.plainWarm), "same, in memory")),
  ]);
} finally {
  for (const r of runs) {
    r.client.close();
    await r.daemon.stop().catch(() => undefined);
    rmSync(r.home, { recursive: true, force: true });
  }
}
