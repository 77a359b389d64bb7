/**
 * Daemon core benchmark (issue 2): ping round-trip latency and pipelined
 * throughput of the compiled daemon over the Unix socket, each as a ratio
 * against a raw Bun echo socket measured in the same run with the same
 * client code (bench/raw-client.ts) and the same frames. Start-up time and
 * idle memory are bench/startup.ts's, against the floor program.
 *
 *   bun bench/core.ts [--json]
 */
import { join } from "node:path";
import { binaryPath } from "../test/helpers/daemon.ts";
import { clientMessage } from "../src/protocol/codec.ts";
import { encodeFrame } from "../src/transport/framing.ts";
import { type FramedClient, rawClient } from "./raw-client.ts";
import { startDaemonTimed, stopStarted } from "./startup.ts";
import { median, percentile, printTable } from "./stats.ts";

const RTT_SAMPLES = 3000;
const PIPELINE = 20_000;
/** Frames in flight at once when pipelining: a busy client's burst, under the daemon's 1,024 queued-request cap. */
const WINDOW = 200;

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

const ping = encodeFrame(clientMessage.encode({ ping: {} }));
const started = await startDaemonTimed(binaryPath(), "[daemon]\ntcp = false\n");
const daemonClient = await rawClient(started.socket);
const daemon = await measure(daemonClient, ping);
daemonClient.close();
const echoPath = join(started.dir, "echo.sock");
const server = echoServer(echoPath);
const echoClient = await rawClient(echoPath);
const echo = await measure(echoClient, ping);
echoClient.close();
server.stop(true);
await stopStarted(started);
const result = {
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
    ["ping round trip, median / p99", `${result.pingRttMedianUs.toFixed(0)} / ${result.pingRttP99Us.toFixed(0)} µs`],
    ["raw Bun echo round trip, median", `${result.echoRttMedianUs.toFixed(0)} µs`],
    ["round trip ratio (daemon / echo)", `${result.rttRatio.toFixed(2)}×`],
    ["pipelined pings per second (median of 5)", `${Math.round(result.pingThroughput).toLocaleString("en")}`],
    ["raw echo frames per second", `${Math.round(result.echoThroughput).toLocaleString("en")}`],
    ["throughput ratio (daemon / echo)", `${result.throughputRatio.toFixed(2)}×`],
  ]);
