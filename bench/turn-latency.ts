/**
 * Turn streaming benchmark, `bun bench/turn-latency.ts`. In one run, against
 * the compiled daemon (dist/crabtalk) and the fake provider in this process:
 *
 * - Added latency per streamed token. The provider writes one text delta per
 *   HTTP write, 2 ms apart, each delta carrying its index ("#17:..."); the
 *   write time of every index is recorded here. A client reads the stream
 *   (a) through the daemon, a StreamMsg over the Unix socket, and (b)
 *   directly, POSTing the same chat completion to the provider and parsing
 *   its SSE. Latency = time the client read the delta minus time the
 *   provider wrote it, same clock. The daemon's added latency is (a) - (b).
 * - Events per second for one client: a stream of many deltas, 200 per
 *   write, offered faster and faster (8, 4, 2, 1, 0 ms between writes),
 *   counted at the client from the request to StreamEnd, and the unpaced
 *   stream read directly from the provider. A client more than the bus's
 *   4,096 events behind is dropped with 408 by design, so the highest rate
 *   that completes is the figure that matters; faster offers are reported
 *   as dropped.
 *
 * Prints a table of medians and p99s. Runs take a few seconds; the machine
 * is shared, so compare figures from the same run, not across runs.
 */
import { DaemonError } from "../src/client/client.ts";
import { startDaemon } from "../test/helpers/daemon.ts";
import { FakeProvider } from "../test/helpers/fake-provider.ts";
import { floodSse, turnConfig } from "../test/helpers/turn-kit.ts";

const PACED_DELTAS = Number(process.env.PACED_DELTAS ?? 1000);
const PACE_MS = 2;
const FLOOD_DELTAS = Number(process.env.FLOOD_DELTAS ?? 20_000);
const FLOOD_PACES_MS = [8, 4, 2, 1, 0];
const ROUNDS = 3;

function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Write time (performance.now) of each delta index of the paced stream now playing. */
let writeTimes: number[] = [];

/** One delta per write, PACE_MS apart, the write time of each recorded just before it is handed to the socket. */
async function* pacedSse(count: number): AsyncGenerator<string> {
  const pieces = floodSse(count, 24, 1);
  let i = 0;
  for (const piece of pieces) {
    if (i > 0) await Bun.sleep(PACE_MS);
    if (i < count) writeTimes[i] = performance.now();
    i++;
    yield piece;
  }
}

const fake = await FakeProvider.start();
fake.route((req) => {
  const body = req.body as { messages?: { role: string; content?: unknown }[] };
  const last = body.messages?.filter((m) => m.role === "user").at(-1)?.content;
  const text = typeof last === "string" ? last : JSON.stringify(last);
  const flood = /^flood:(\d+)$/.exec(text);
  if (flood) return { kind: "generate", chunks: () => floodSse(FLOOD_DELTAS, 24, 200), chunkDelayMs: Number(flood[1]) };
  return { kind: "generate", chunks: () => pacedSse(PACED_DELTAS) };
});
await using daemon = await startDaemon({ config: turnConfig(fake.url) });
const client = await daemon.client();

const indexOf = (text: string): number => {
  const m = /^#(\d+):/.exec(text);
  return m ? Number(m[1]) : -1;
};

/** Reads one paced turn through the daemon; returns per-delta latencies in ms. */
async function viaDaemon(): Promise<number[]> {
  writeTimes = [];
  const latencies: number[] = [];
  for await (const reply of client.stream({ stream: { agent: "crab", content: "paced" } })) {
    const chunk = reply.stream?.chunk;
    if (!chunk) continue;
    const now = performance.now();
    const i = indexOf(chunk.content);
    if (i >= 0) latencies.push(now - writeTimes[i]!);
  }
  return latencies;
}

/** Reads an OpenAI SSE stream straight from the provider; calls onDelta with each delta's text as it is parsed. */
async function direct(content: string, onDelta: (text: string, now: number) => void): Promise<void> {
  const res = await fetch(`${fake.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "fake-model", stream: true, messages: [{ role: "user", content }] }),
  });
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const bytes of res.body!) {
    const now = performance.now();
    buffer += decoder.decode(bytes, { stream: true });
    for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const parsed = JSON.parse(event.slice(6)) as { choices: { delta?: { content?: string } }[] };
      const text = parsed.choices[0]?.delta?.content;
      if (text) onDelta(text, now);
    }
  }
}

async function viaProvider(): Promise<number[]> {
  writeTimes = [];
  const latencies: number[] = [];
  await direct("paced", (text, now) => {
    const i = indexOf(text);
    if (i >= 0) latencies.push(now - writeTimes[i]!);
  });
  return latencies;
}

interface Rate {
  paceMs: number;
  events: number;
  perSecond: number;
  dropped?: string;
}

async function floodRate(through: "daemon" | "provider", paceMs: number): Promise<Rate> {
  let events = 0;
  const t0 = performance.now();
  try {
    if (through === "daemon") {
      for await (const reply of client.stream({ stream: { agent: "crab", content: `flood:${paceMs}` } }))
        if (reply.stream?.chunk) events++;
    } else {
      await direct(`flood:${paceMs}`, () => events++);
    }
  } catch (err) {
    return {
      paceMs,
      events,
      perSecond: NaN,
      dropped: err instanceof DaemonError ? `dropped with ${err.code} after ${events} events` : String(err),
    };
  }
  return { paceMs, events, perSecond: events / ((performance.now() - t0) / 1000) };
}

// Warm both paths (JIT, connections), then interleave rounds so drift hits both alike.
await viaDaemon();
await viaProvider();
const daemonLat: number[] = [];
const providerLat: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  daemonLat.push(...(await viaDaemon()));
  providerLat.push(...(await viaProvider()));
}
if (daemonLat.length !== PACED_DELTAS * ROUNDS || providerLat.length !== PACED_DELTAS * ROUNDS) {
  throw new Error(
    `lost deltas: daemon ${daemonLat.length}, provider ${providerLat.length}, expected ${PACED_DELTAS * ROUNDS} each`,
  );
}
const rates: Rate[] = [];
for (const pace of FLOOD_PACES_MS) {
  rates.push(await floodRate("daemon", pace));
  // Let a dropped turn finish in the daemon before the next offer.
  await Bun.sleep(rates.at(-1)!.dropped ? 2000 : 100);
}
const directRate = await floodRate("provider", 0);
client.close();
await fake.stop();

const ms = (x: number) => `${x.toFixed(3)} ms`;
const med = { daemon: percentile(daemonLat, 50), provider: percentile(providerLat, 50) };
const p99 = { daemon: percentile(daemonLat, 99), provider: percentile(providerLat, 99) };
const rows: [string, string, string, string][] = [
  ["", "median", "p99", "max"],
  ["provider write -> client read, via daemon", ms(med.daemon), ms(p99.daemon), ms(Math.max(...daemonLat))],
  ["provider write -> client read, direct", ms(med.provider), ms(p99.provider), ms(Math.max(...providerLat))],
  ["added by the daemon (difference)", ms(med.daemon - med.provider), ms(p99.daemon - p99.provider), ""],
];
const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
console.log(
  `\nPer-token latency: ${PACED_DELTAS} deltas x ${ROUNDS} rounds each way, one delta per write every ${PACE_MS} ms`,
);
for (const r of rows)
  console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
const perSecond = (r: Rate) =>
  r.dropped ? r.dropped : `${r.events} events, ${Math.round(r.perSecond).toLocaleString("en-US")} events/s`;
console.log(`\nThroughput, one client, ${FLOOD_DELTAS} deltas of 24 characters, 200 per write`);
for (const r of rates) console.log(`via daemon, ${String(r.paceMs).padStart(2)} ms between writes   ${perSecond(r)}`);
console.log(`direct,      0 ms between writes   ${perSecond(directRate)}`);
const best = rates.filter((r) => !r.dropped).sort((a, b) => b.perSecond - a.perSecond)[0];
console.log(
  `best sustained through the daemon: ${best ? `${Math.round(best.perSecond).toLocaleString("en-US")} events/s` : "none completed"}`,
);
