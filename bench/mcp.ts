/**
 * MCP costs, `bun bench/mcp.ts` (compiled binary: dist/crabtalk or $CRABTALK_BIN):
 *
 * 1. Start time (spawn until the socket answers a ping, polled every 2 ms)
 *    and idle VmRSS of a daemon with no MCP server against one with
 *    server-everything configured but not yet used: the SDK is imported on
 *    first use only, so the two should match.
 * 2. A tool call (server-everything's echo over stdio) through the daemon
 *    (`McpCallMsg`, what `crabtalk mcp call` sends) against the same call
 *    from the SDK's own client straight to a server it spawned: median and
 *    p99 over CALLS calls after WARMUP, and the daemon's first call (SDK
 *    load, spawn, initialize, tools/list).
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CrabtalkClient } from "../src/client/client.ts";
import { binaryPath, tempHome } from "../test/helpers/daemon.ts";
import { rssOf } from "../test/helpers/turn-kit.ts";
import { EVERYTHING, stdioServer } from "../test/mcp/kit.ts";
import { median, percentile, printTable } from "./stats.ts";

const STARTS = Number(process.env.STARTS ?? 15);
const CALLS = Number(process.env.CALLS ?? 300);
const WARMUP = 30;
const BASE = `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["m"]\n`;
const WITH_MCP = `${BASE}${stdioServer("everything", EVERYTHING, ["stdio"])}`;

interface Running {
  home: string;
  proc: ReturnType<typeof Bun.spawn>;
  ms: number;
}

async function start(config: string): Promise<Running> {
  const home = tempHome("crabtalk-bench-mcp-");
  writeFileSync(join(home, "crabtalk.toml"), config);
  const t0 = performance.now();
  const proc = Bun.spawn([binaryPath(), "daemon"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  for (;;) {
    try {
      const c = await CrabtalkClient.connect({ home });
      await c.request({ ping: {} });
      c.close();
      return { home, proc, ms: performance.now() - t0 };
    } catch {
      if (performance.now() - t0 > 15_000) throw new Error("daemon did not start in 15 s");
      await Bun.sleep(2);
    }
  }
}

async function stop(r: Running): Promise<void> {
  r.proc.kill("SIGTERM");
  await r.proc.exited;
  rmSync(r.home, { recursive: true, force: true });
}

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
