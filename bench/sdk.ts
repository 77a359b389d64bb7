/**
 * SDK throughput, `bun bench/sdk.ts`: events per second a client receives
 * when it attaches with after_seq=0 to a 10,000-event session and reads to
 * its StreamEnd, through the compiled daemon's Unix socket, for each SDK:
 * the TypeScript package under Bun and under Node (its built dist/), and the
 * Python client. Baseline in the same run: a raw socket reading frames and
 * decoding each with the project's codec, no SDK machinery (Bun).
 *
 * The session is one real turn of 10,000 text deltas from the fake provider.
 * Each client runs in its own process (WARMUP untimed then RUNS timed
 * replays) and prints its median; ratios are against the raw baseline.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { serverMessage, clientMessage } from "../src/protocol/codec.ts";
import { encodeFrame, FrameReader } from "../src/transport/framing.ts";
import { CrabtalkClient } from "../sdk/typescript/src/index.ts";
import { FakeProvider } from "../test/helpers/fake-provider.ts";
import { startDaemon, tempHome } from "../test/helpers/daemon.ts";
import { floodSse, turnConfig } from "../test/helpers/turn-kit.ts";

const DELTAS = 10_000;
const RUNS = 7;
const WARMUP = 2;
const ROOT = join(import.meta.dir, "..");

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One replay over a raw Bun socket: frames in, each decoded, until the StreamEnd. Returns events read. */
async function rawReplay(socket: string, session: number): Promise<number> {
  const reader = new FrameReader();
  let events = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const conn = await Bun.connect({
    unix: socket,
    socket: {
      data(_s, chunk) {
        for (const frame of reader.push(new Uint8Array(chunk))) {
          const reply = serverMessage.decode(frame);
          if (!reply.stream) continue;
          events++;
          if (reply.stream.end) done();
        }
      },
    },
  });
  conn.write(encodeFrame(clientMessage.encode({ requestId: 1, attach: { session, afterSeq: 0 } })));
  await finished;
  conn.end();
  return events;
}

async function timedInProcess(fn: () => Promise<number>): Promise<{ ms: number; events: number }> {
  let events = 0;
  for (let i = 0; i < WARMUP; i++) events = await fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    events = await fn();
    times.push(performance.now() - t);
  }
  return { ms: median(times), events };
}

/** Runs a child that prints `{"ms": median, "events": n}` as its last line. */
function child(cmd: string[], env: Record<string, string>): { ms: number; events: number } {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { env: { ...process.env, ...env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as { ms: number; events: number };
}

const NODE_SCRIPT = `
import { CrabtalkClient } from ${JSON.stringify(join(ROOT, "sdk/typescript/dist/index.js"))};
const [socket, session, runs, warmup] = process.argv.slice(2).map((a, i) => (i === 0 ? a : Number(a)));
const client = await CrabtalkClient.connect({ socket });
const once = async () => { let n = 0; for await (const e of client.attach(session, { afterSeq: 0, untilEnd: true })) n++; return n; };
let events = 0; for (let i = 0; i < warmup; i++) events = await once();
const times = [];
for (let i = 0; i < runs; i++) { const t = performance.now(); events = await once(); times.push(performance.now() - t); }
client.close();
times.sort((a, b) => a - b);
console.log(JSON.stringify({ ms: times[Math.floor(times.length / 2)], events }));
`;

const PY_SCRIPT = `
import asyncio, json, sys, time
sys.path.insert(0, ${JSON.stringify(join(ROOT, "sdk/python"))})
from crabtalk import Client
socket, session, runs, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
async def main():
    async with await Client.connect(socket=socket) as client:
        async def once():
            n = 0
            async for _ in client.attach(session, after_seq=0, until_end=True):
                n += 1
            return n
        for _ in range(warmup):
            events = await once()
        times = []
        for _ in range(runs):
            t = time.perf_counter(); events = await once(); times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(json.dumps({"ms": times[len(times) // 2], "events": events}))
asyncio.run(main())
`;

await using fake = await FakeProvider.start();
await using d = await startDaemon({ config: turnConfig(fake.url) });
fake.enqueue({ kind: "generate", chunks: () => floodSse(DELTAS, 16, 1000) });
const setup = await CrabtalkClient.connect({ socket: d.socket });
const session = (await setup.send("crab", "flood")).session;
setup.close();

// The Node run uses the package as built for npm.
const build = spawnSync(process.execPath, ["build.ts"], { cwd: join(ROOT, "sdk/typescript"), encoding: "utf8" });
if (build.status !== 0) throw new Error(`building sdk/typescript failed: ${build.stderr}`);
const dir = tempHome("crabtalk-bench-sdk-");
writeFileSync(join(dir, "node-sdk.mjs"), NODE_SCRIPT);
writeFileSync(join(dir, "py-sdk.py"), PY_SCRIPT);
const args = [d.socket, String(session), String(RUNS), String(WARMUP)];

const sdkClient = await CrabtalkClient.connect({ socket: d.socket });
const results: [string, { ms: number; events: number }][] = [
  ["raw socket + codec (Bun), baseline", await timedInProcess(() => rawReplay(d.socket, session))],
  [
    "@crabtalk/client under Bun",
    await timedInProcess(async () => {
      let n = 0;
      for await (const _ of sdkClient.attach(session, { afterSeq: 0, untilEnd: true })) n++;
      return n;
    }),
  ],
  ["@crabtalk/client under Node (dist/)", child(["node", join(dir, "node-sdk.mjs"), ...args], {})],
  ["crabtalk Python client", child(["/usr/bin/python3", join(dir, "py-sdk.py"), ...args], {})],
];
sdkClient.close();

const base = results[0]![1];
console.log(`replay of one ${base.events.toLocaleString("en-US")}-event session to its StreamEnd, median of ${RUNS}:`);
for (const [name, r] of results) {
  if (r.events !== base.events) throw new Error(`${name} read ${r.events} events, the baseline ${base.events}`);
  const rate = Math.round(r.events / (r.ms / 1000)).toLocaleString("en-US");
  console.log(
    `  ${name.padEnd(38)} ${rate.padStart(9)} events/s  ${r.ms.toFixed(1).padStart(7)} ms  ${(base.ms / r.ms).toFixed(2)}x baseline`,
  );
}
