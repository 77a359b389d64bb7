import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CrabtalkClient } from "../src/client/client.ts";
import { rssOf } from "../test/helpers/turn-kit.ts";
import { EVERYTHING, stdioServer } from "../test/mcp/kit.ts";
import { median, percentile, printTable } from "./stats.ts";
import { startTimed, stopTimed } from "./timed-daemon.ts";

const STARTS = Number(process.env.STARTS ?? 15);
const CALLS = Number(process.env.CALLS ?? 300);
const WARMUP = 30;
const BASE = `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["m"]\n`;
const WITH_MCP = `${BASE}${stdioServer("everything", EVERYTHING, ["stdio"])}`;

const start = (config: string) => startTimed(config, "crabtalk-bench-mcp-");
const stop = stopTimed;

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

// 1. Start time and idle memory, alternating so drift hits both alike.
const startNone: number[] = [];
const startMcp: number[] = [];
const rssNone: number[] = [];
const rssMcp: number[] = [];
for (let i = 0; i < STARTS; i++) {
  for (const [config, times, rss] of [
    [BASE, startNone, rssNone],
    [WITH_MCP, startMcp, rssMcp],
  ] as const) {
    const r = await start(config);
    times.push(r.ms);
    await Bun.sleep(300);
    rss.push(rssOf(r.proc.pid) / 1024 / 1024);
    await stop(r);
  }
}
printTable(`daemon start (spawn to first ping answered) and idle VmRSS, ${STARTS} starts each`, [
  ["start, no MCP server (median)", fmt(median(startNone))],
  ["start, one MCP server configured, unused (median)", fmt(median(startMcp))],
  ["ratio", (median(startMcp) / median(startNone)).toFixed(2)],
  ["idle VmRSS, no MCP server (median)", `${median(rssNone).toFixed(1)} MB`],
  ["idle VmRSS, one configured, unused (median)", `${median(rssMcp).toFixed(1)} MB`],
]);

// 2. One tool call through the daemon against the SDK client straight to the server.
const daemon = await start(WITH_MCP);
const client = await CrabtalkClient.connect({ home: daemon.home });
const viaDaemon = async () => {
  const r = (
    await client.request({ mcpCall: { server: "everything", tool: "echo", arguments: '{"message":"bench"}' } })
  ).mcpResult!;
  if (r.isError || r.output !== "Echo: bench") throw new Error(`unexpected answer: ${r.output}`);
};
let t = performance.now();
await viaDaemon();
const firstCall = performance.now() - t;
const direct = new Client({ name: "bench", version: "1" });
await direct.connect(new StdioClientTransport({ command: "node", args: [EVERYTHING, "stdio"], stderr: "ignore" }));
const viaSdk = async () => {
  const r = await direct.callTool({ name: "echo", arguments: { message: "bench" } });
  if (r.isError) throw new Error("direct call failed");
};
const daemonMs: number[] = [];
const sdkMs: number[] = [];
for (let i = 0; i < WARMUP + CALLS; i++) {
  for (const [fn, out] of [
    [viaDaemon, daemonMs],
    [viaSdk, sdkMs],
  ] as const) {
    t = performance.now();
    await fn();
    if (i >= WARMUP) out.push(performance.now() - t);
  }
}
const rssAfter = rssOf(daemon.proc.pid) / 1024 / 1024;
await direct.close();
client.close();
await stop(daemon);
printTable(`echo over stdio, ${CALLS} calls each (after ${WARMUP} warm-up)`, [
  ["through the daemon, median", fmt(median(daemonMs))],
  ["through the daemon, p99", fmt(percentile(daemonMs, 99))],
  ["SDK client direct, median", fmt(median(sdkMs))],
  ["SDK client direct, p99", fmt(percentile(sdkMs, 99))],
  ["daemon overhead, median", fmt(median(daemonMs) - median(sdkMs))],
  ["daemon's first call (SDK load, spawn, initialize, tools/list)", fmt(firstCall)],
  ["daemon VmRSS with the server connected", `${rssAfter.toFixed(1)} MB`],
]);
