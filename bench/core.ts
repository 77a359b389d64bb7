/**
 * Daemon core benchmark (issue 2): for the compiled binary, the median time
 * from exec to the socket answering, idle resident memory, and ping
 * round-trip latency and pipelined throughput over the Unix socket, each as
 * a ratio against a raw Bun echo socket measured in the same run with the
 * same client code and the same frames.
 *
 *   bun bench/core.ts [--json]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import { binaryPath } from "../test/helpers/daemon.ts";
import { clientMessage } from "../src/protocol/codec.ts";
import { encodeFrame, FrameReader } from "../src/transport/framing.ts";
import { median, percentile, printTable } from "./stats.ts";

const STARTS = 10;
const RTT_SAMPLES = 3000;
const PIPELINE = 20_000;
/** Frames in flight at once when pipelining: a busy client's burst, under the daemon's 1,024 queued-request cap. */
const WINDOW = 200;

interface FramedClient {
  request(frame: Uint8Array): Promise<void>;
  pipeline(frames: Uint8Array[]): Promise<void>;
  close(): void;
}

/** One raw client used against both servers, so only the server differs. */
async function rawClient(path: string): Promise<FramedClient> {
  const reader = new FrameReader();
  let want = 0;
  let got = 0;
  let done: (() => void) | null = null;
  const socket: Socket<undefined> = await Bun.connect({
    unix: path,
    socket: {
      data(_s, chunk) {
        got += reader.push(new Uint8Array(chunk)).length;
        if (got >= want && done) {
          const d = done;
          done = null;
          d();
        }
      },
    },
  });
  const send = async (frames: Uint8Array[]) => {
    want = got + frames.length;
    const wait = new Promise<void>((r) => (done = r));
    const all = Buffer.concat(frames);
    let off = 0;
    while (off < all.length) {
      const n = socket.write(all.subarray(off));
      if (n < 0) throw new Error("socket closed while writing");
      off += n;
      if (off < all.length) await Bun.sleep(0);
    }
    await wait;
  };
  return { request: (f) => send([f]), pipeline: send, close: () => socket.end() };
}

function echoServer(path: string) {
  return Bun.listen({
    unix: path,
    socket: {
      data(s, chunk) {
        s.write(chunk);
      },
    },
  });
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

async function startAndTime(bin: string): Promise<{ ms: number; proc: ReturnType<typeof Bun.spawn>; home: string }> {
  const home = mkdtempSync(join(tmpdir(), "crabtalk-bench-"));
  await Bun.write(join(home, "crabtalk.toml"), "[daemon]\ntcp = false\n");
  const sock = join(home, "crabtalk.sock");
  const ping = encodeFrame(clientMessage.encode({ ping: {} }));
  const t0 = performance.now();
  const proc = Bun.spawn([bin, "daemon", "--log-level", "warn"], {
    env: { PATH: process.env.PATH ?? "", HOME: home, CRABTALK_HOME: home },
    stdout: "ignore",
    stderr: "ignore",
  });
  for (;;) {
    try {
      const c = await rawClient(sock);
      await c.request(ping);
      c.close();
      return { ms: performance.now() - t0, proc, home };
    } catch {
      await Bun.sleep(1);
    }
    if (performance.now() - t0 > 15_000) throw new Error("daemon did not start");
  }
}

async function measure(client: FramedClient, frame: Uint8Array) {
  for (let i = 0; i < 200; i++) await client.request(frame); // warm-up
  const rtts: number[] = [];
  for (let i = 0; i < RTT_SAMPLES; i++) {
    const t = performance.now();
    await client.request(frame);
    rtts.push((performance.now() - t) * 1000);
  }
  const window = Array.from({ length: WINDOW }, () => frame);
  const rates: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let sent = 0; sent < PIPELINE; sent += WINDOW) await client.pipeline(window);
    rates.push(PIPELINE / ((performance.now() - t) / 1000));
  }
  return { rttMedianUs: median(rtts), rttP99Us: percentile(rtts, 99), throughput: median(rates) };
}

const bin = binaryPath();
const starts: number[] = [];
let idleRss = 0;
for (let i = 0; i < STARTS; i++) {
  const { ms, proc, home } = await startAndTime(bin);
  starts.push(ms);
  if (i === STARTS - 1) {
    await Bun.sleep(1000);
    idleRss = rssKb(proc.pid);
    const ping = encodeFrame(clientMessage.encode({ ping: {} }));
    const daemonClient = await rawClient(join(home, "crabtalk.sock"));
    const daemon = await measure(daemonClient, ping);
    daemonClient.close();
    const echoPath = join(home, "echo.sock");
    const server = echoServer(echoPath);
    const echoClient = await rawClient(echoPath);
    const echo = await measure(echoClient, ping);
    echoClient.close();
    server.stop(true);
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(home, { recursive: true, force: true });
    const result = {
      startMedianMs: median(starts),
      idleRssMb: idleRss / 1024,
      pingRttMedianUs: daemon.rttMedianUs,
      pingRttP99Us: daemon.rttP99Us,
      echoRttMedianUs: echo.rttMedianUs,
      rttRatio: daemon.rttMedianUs / echo.rttMedianUs,
      pingThroughput: daemon.throughput,
      echoThroughput: echo.throughput,
      throughputRatio: daemon.throughput / echo.throughput,
    };
    if (process.argv.includes("--json")) console.log(JSON.stringify(result));
    else
      printTable("daemon core (compiled binary, Unix socket)", [
        ["exec to socket answering (median of 10)", `${result.startMedianMs.toFixed(1)} ms`],
        ["idle resident memory", `${result.idleRssMb.toFixed(1)} MB`],
        [
          "ping round trip, median / p99",
          `${result.pingRttMedianUs.toFixed(0)} / ${result.pingRttP99Us.toFixed(0)} µs`,
        ],
        ["raw Bun echo round trip, median", `${result.echoRttMedianUs.toFixed(0)} µs`],
        ["round trip ratio (daemon / echo)", `${result.rttRatio.toFixed(2)}×`],
        ["pipelined pings per second (median of 5)", `${Math.round(result.pingThroughput).toLocaleString("en")}`],
        ["raw echo frames per second", `${Math.round(result.echoThroughput).toLocaleString("en")}`],
        ["throughput ratio (daemon / echo)", `${result.throughputRatio.toFixed(2)}×`],
      ]);
  } else {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(home, { recursive: true, force: true });
  }
}
