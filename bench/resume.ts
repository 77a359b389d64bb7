/**
 * Resume benchmark through the whole daemon, `bun bench/resume.ts`: the
 * compiled binary (dist/crabtalk or $CRABTALK_BIN) in a temporary home,
 * the fake provider as the model, a client over the Unix socket. In one run:
 * - time from sending a StreamMsg to its first streamed token, for
 *   (a) a new session, (b) a 10,000-message session resumed from disk
 *   (evicted with KillMsg before every sample, so each one loads the file),
 *   (c) the same session resumed while still in memory;
 * - append cost per message of the session store (default durability
 *   policy: fdatasync per message), on a fresh session and on the
 *   10,000-message one, in this process on the same filesystem.
 * Prints medians, p90s and the ratios to a new session's first token.
 *
 * The 10,000-message session is written through the store module (turn
 * start event, user message, assistant message with usage, model-end and
 * turn-end events per turn, as the runtime appends them; the store adds its
 * own totals snapshots), so the file has the shape a real one has.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CrabtalkClient } from "../src/client/client.ts";
import { JsonlSessionStore } from "../src/store/jsonl.ts";
import type { NewRecord } from "../src/store/types.ts";
import { FakeProvider, sseReply } from "../test/helpers/fake-provider.ts";
import { openaiSse } from "../test/helpers/sse-builders.ts";
import { startDaemon } from "../test/helpers/daemon.ts";

const MESSAGES = 10_000;
const SAMPLES = 15;
const APPENDS = 200;
const TEXT = "the quick brown crab walks sideways across the warm sand while the tide goes out. ".repeat(2);

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]!;
const ms = (x: number) => `${x.toFixed(2)} ms`;

/** Writes the big session through the store (fsync off: this is setup, not measurement). Returns its id. */
async function writeBigSession(dir: string): Promise<number> {
  const store = await JsonlSessionStore.open(dir, { fsync: "none" });
  const s = await store.create({ agent: "crab", createdBy: "bench" });
  let seq = 0;
  const usage = { promptTokens: 10, completionTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
  for (let turn = 0; turn < MESSAGES / 2; turn++) {
    const start = ++seq;
    const batch: NewRecord[] = [
      {
        kind: "event",
        event: { seq: start, type: "start", turn: start, data: { agent: "crab", session: s.id, sender: "bench" } },
      },
      { kind: "message", message: { role: "user", content: `question ${turn}: ${TEXT}`, timestamp: Date.now() } },
      {
        kind: "message",
        message: {
          role: "assistant",
          content: `answer ${turn}: ${TEXT}`,
          model: "fake-model",
          stopReason: "stop",
          usage,
          timestamp: Date.now(),
        },
      },
      {
        kind: "event",
        event: { seq: ++seq, type: "modelEnd", turn: start, data: { model: "fake-model", stopReason: "stop" } },
      },
      {
        kind: "event",
        event: {
          seq: ++seq,
          type: "end",
          turn: start,
          data: { agent: "crab", model: "fake-model", stopReason: "stop" },
        },
      },
    ];
    await store.append(s.id, batch);
  }
  await store.close();
  return s.id;
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

async function appendCost(store: JsonlSessionStore, id: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < APPENDS; i++) {
    const t = performance.now();
    await store.append(id, [{ kind: "message", message: { role: "user", content: `appended ${i}: ${TEXT}` } }]);
    out.push(performance.now() - t);
  }
  return out;
}

const home = mkdtempSync(join(tmpdir(), "crabtalk-bench-resume-"));
await using fake = await FakeProvider.start();
fake.route(() => sseReply(openaiSse({ text: "a short streamed answer", usage: { prompt: 10, completion: 5 } })));
try {
  const sessionsDir = join(home, "sessions");
  let t = performance.now();
  const big = await writeBigSession(sessionsDir);
  const bytes = statSync(join(sessionsDir, `${big}.jsonl`)).size;
  console.log(
    `setup: ${MESSAGES.toLocaleString("en-US")}-message session ${big}, ${(bytes / 1024 / 1024).toFixed(1)} MB on disk, written in ${Math.round(performance.now() - t)} ms`,
  );

  writeFileSync(
    join(home, "crabtalk.toml"),
    `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`,
  );
  t = performance.now();
  await using d = await startDaemon({ home });
  console.log(`daemon ready in ${Math.round(performance.now() - t)} ms`);
  const c = await d.client();

  // Warm-up: code paths, the page cache and the provider connection.
  await firstToken(c);
  const firstColdLoad = await firstToken(c, big);
  const sent = (fake.requests.at(-1)!.body as { messages: unknown[] }).messages.length;
  if (sent < MESSAGES) throw new Error(`the resumed turn sent only ${sent} messages to the model`);

  const fresh: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    fresh.push(await firstToken(c));
    await c.request({ kill: { session: big } });
    cold.push(await firstToken(c, big));
    warm.push(await firstToken(c, big));
  }
  c.close();
  await d.stop();

  const store = await JsonlSessionStore.open(sessionsDir);
  const small = await store.create({ agent: "crab", createdBy: "bench" });
  const appendFresh = await appendCost(store, small.id);
  const appendBig = await appendCost(store, big);
  await store.close();

  const base = median(fresh);
  console.log(
    `\nfirst streamed token (median / p90 over ${SAMPLES}; the model request for the big session carries ${sent.toLocaleString("en-US")} messages):`,
  );
  console.log(`  new session:                           ${ms(base)} / ${ms(p90(fresh))}`);
  console.log(
    `  resume ${MESSAGES.toLocaleString("en-US")} msgs from disk (evicted): ${ms(median(cold))} / ${ms(p90(cold))}  = ${(median(cold) / base).toFixed(1)}x new`,
  );
  console.log(
    `  resume ${MESSAGES.toLocaleString("en-US")} msgs in memory:           ${ms(median(warm))} / ${ms(p90(warm))}  = ${(median(warm) / base).toFixed(1)}x new`,
  );
  console.log(`  first load after daemon start:         ${ms(firstColdLoad)} (one sample)`);
  console.log(`\nappend per message (store, fdatasync each; median / p90 over ${APPENDS}):`);
  console.log(
    `  fresh session:          ${(median(appendFresh) * 1000).toFixed(0)} µs / ${(p90(appendFresh) * 1000).toFixed(0)} µs`,
  );
  console.log(
    `  ${MESSAGES.toLocaleString("en-US")}-message session: ${(median(appendBig) * 1000).toFixed(0)} µs / ${(p90(appendBig) * 1000).toFixed(0)} µs  = ${(median(appendBig) / median(appendFresh)).toFixed(2)}x fresh`,
  );
} finally {
  rmSync(home, { recursive: true, force: true });
}
