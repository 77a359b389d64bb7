/**
 * Replay benchmark, `bun bench/replay.ts`: how fast a client that attaches
 * with after_seq=0 receives a 10,000-event session from the trace, through
 * the compiled daemon (dist/crabtalk, or $CRABTALK_BIN) over its Unix
 * socket, decoded by the SDK client. In the same run, two baselines on the
 * same file: reading the JSONL file and JSON-parsing its lines (the floor
 * for any replay from this format), and the store's own readEvents in this
 * process (the daemon's replay without socket, protobuf and client).
 *
 * The session is written with the store class the daemon uses (so the
 * format is exactly the daemon's): ten turns, each a user message, a start
 * event, 997 chunk events of a few words, a model_end, an end and the
 * assistant message: 10,000 events, the shape a long chatty session has.
 * Prints medians over RUNS timed runs after WARMUP untimed ones.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CrabtalkClient } from "../src/client/client.ts";
import { JsonlSessionStore } from "../src/store/jsonl.ts";
import type { NewRecord } from "../src/store/types.ts";
import type { AssistantMessage } from "../src/provider/types.ts";
import { FakeProvider } from "../test/helpers/fake-provider.ts";
import { startDaemon } from "../test/helpers/daemon.ts";

const EVENTS = 10_000;
const TURNS = 10;
const RUNS = 15;
const WARMUP = 3;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const rate = (ms: number): string =>
  `${Math.round(EVENTS / (ms / 1000)).toLocaleString("en-US")} events/s (${ms.toFixed(1)} ms per 10,000)`;

async function timed(runs: number, fn: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

/** Writes the session with the daemon's store; returns its id and file. */
async function writeSession(home: string): Promise<{ id: number; file: string }> {
  const dir = join(home, "sessions");
  const store = await JsonlSessionStore.open(dir);
  const s = await store.create({ agent: "crab", createdBy: "bench" });
  let seq = 0;
  let ts = Date.now() - 3_600_000;
  const perTurn = EVENTS / TURNS;
  for (let t = 0; t < TURNS; t++) {
    const start = seq + 1;
    const ev = (type: string, data: Record<string, unknown>): NewRecord => ({
      kind: "event",
      ts: ts++,
      event: { seq: ++seq, type, turn: start, data },
    });
    const records: NewRecord[] = [
      { kind: "message", message: { role: "user", content: `question ${t}`, timestamp: ts } },
    ];
    records.push(ev("start", { agent: "crab", session: s.id, sender: "bench" }));
    let text = "";
    for (let i = 0; i < perTurn - 3; i++) {
      const piece = ` word${i} and more`;
      text += piece;
      records.push(ev("chunk", { content: piece }));
    }
    const usage = {
      promptTokens: 1200,
      completionTokens: perTurn - 3,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    };
    records.push(ev("modelEnd", { model: "fake-model", usage, stopReason: "stop" }));
    records.push(ev("end", { agent: "crab", model: "fake-model", usage, stopReason: "stop", error: "", errorCode: 0 }));
    const answer: AssistantMessage = {
      role: "assistant",
      content: text,
      model: "fake-model",
      stopReason: "stop",
      timestamp: ts,
    };
    records.push({ kind: "message", message: answer });
    await store.append(s.id, records);
  }
  await store.close();
  return { id: s.id, file: join(dir, `${s.id}.jsonl`) };
}

const home = await mkdtemp(join(tmpdir(), "crabtalk-bench-replay-"));
await using fake = await FakeProvider.start();
try {
  const { id, file } = await writeSession(home);
  const bytes = (await readFile(file)).byteLength;

  // Baseline 1: the file read and every line JSON-parsed, keeping the events.
  const jsonl = await timed(RUNS, async () => {
    const text = await Bun.file(file).text();
    let n = 0;
    for (const line of text.split("\n")) {
      if (!line) continue;
      const r = JSON.parse(line) as { kind: string };
      if (r.kind === "event") n++;
    }
    if (n !== EVENTS) throw new Error(`expected ${EVENTS} events in the file, read ${n}`);
  });

  // Baseline 2: the store's readEvents in this process.
  const store = await JsonlSessionStore.open(join(home, "sessions"));
  const storeRuns = await timed(RUNS, async () => {
    let n = 0;
    for await (const _ of store.readEvents(id, 0)) n++;
    if (n !== EVENTS) throw new Error(`readEvents gave ${n} events`);
  });
  await store.close();

  // The figure: attach{after_seq: 0} through the daemon until the last event arrives.
  const config = `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`;
  await using d = await startDaemon({ config, home });
  const client = await CrabtalkClient.connect({ home });
  const attachRuns = await timed(RUNS, async () => {
    let expected = 1;
    let marker = false;
    for await (const reply of client.stream({ attach: { session: id, afterSeq: 0 } })) {
      // The Attached marker comes first and says where the replay ends; the events follow it.
      if (!marker && reply.attached) {
        if (reply.attached.lastSeq !== EVENTS)
          throw new Error(`attach replay: the marker says ${reply.attached.lastSeq}, not ${EVENTS}`);
        marker = true;
        continue;
      }
      const seq = reply.stream?.seq;
      if (seq !== expected) throw new Error(`attach replay: expected seq ${expected}, got ${seq} (${reply.msg})`);
      if (expected++ === EVENTS) break; // breaking out unsubscribes
    }
  });
  // The same, each run on a fresh connection (connect cost included).
  const freshRuns = await timed(RUNS, async () => {
    const c = await CrabtalkClient.connect({ home });
    let n = 0;
    for await (const reply of c.stream({ attach: { session: id, afterSeq: 0 } }))
      if (reply.stream && ++n === EVENTS) break;
    c.close();
  });
  client.close();
  await d.stop();

  console.log(
    `\nreplay of a ${EVENTS.toLocaleString("en-US")}-event session (${TURNS} turns, ${(bytes / 1024 / 1024).toFixed(2)} MiB JSONL); medians of ${RUNS} runs after ${WARMUP} warm-up`,
  );
  console.log(`  attach{after_seq:0} via daemon, UDS, SDK client     ${rate(median(attachRuns))}`);
  console.log(`  same, new connection per run                        ${rate(median(freshRuns))}`);
  console.log(`  baseline: store.readEvents in-process               ${rate(median(storeRuns))}`);
  console.log(`  baseline: read JSONL file + JSON.parse every line   ${rate(median(jsonl))}`);
  console.log(`  attach / JSONL baseline: ${(median(jsonl) / median(attachRuns)).toFixed(2)}x the speed`);
} finally {
  await rm(home, { recursive: true, force: true });
}
