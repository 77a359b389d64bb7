/**
 * Extension costs, `bun bench/ext.ts` (compiled binary: dist/crabtalk or $CRABTALK_BIN):
 *
 * 1. A tool call through an extension against the same tool built in: the
 *    host's own path (ExtClient over the extension's Unix socket, the Tool
 *    the registry holds) to test/fixtures/extensions/probe.ts's echo,
 *    against an in-process Tool returning the same text. Median and p99,
 *    one call at a time and with 100 in flight.
 * 2. The same through the daemon in a real turn (fake provider asks for the
 *    tool, reads the result): a turn calling the extension's echo against
 *    one calling the built-in `read` of a small file; median turn time.
 * 3. Daemon start (spawn until the socket answers a ping) with three
 *    extensions configured against none: it must not wait for them.
 * 4. From kill -9 of an extension to its tools answering again (state
 *    running with a new pid; the registry is refilled before that state):
 *    the first restart, so the 1 s backoff is included.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Tool } from "../src/agent/types.ts";
import { CrabtalkClient } from "../src/client/client.ts";
import { toolsFrom } from "../src/ext/capabilities.ts";
import { ExtClient } from "../src/ext/client.ts";
import { connectPipe } from "../src/transport/pipe.ts";
import { tempHome } from "../test/helpers/daemon.ts";
import { FakeProvider, sseReply } from "../test/helpers/fake-provider.ts";
import { openaiSse } from "../test/helpers/sse-builders.ts";
import { turnConfig } from "../test/helpers/turn-kit.ts";
import { serviceSection } from "../test/e2e/ext-kit.ts";
import { FIXTURES } from "../test/e2e/ext-kit.ts";
import { median, percentile, printTable } from "./stats.ts";
import { startTimed, stopTimed } from "./timed-daemon.ts";

const CALLS = Number(process.env.CALLS ?? 2000);
const ROUNDS = Number(process.env.ROUNDS ?? 30);
const TURNS = Number(process.env.TURNS ?? 150);
const STARTS = Number(process.env.STARTS ?? 10);
const CRASHES = Number(process.env.CRASHES ?? 5);
const fmt = (ms: number) => `${ms.toFixed(3)} ms`;
const ctx = (i: number) => ({ agent: "bench", session: 1, callId: `c${i}`, signal: new AbortController().signal });

// 1. In-process: the host's tool path against a built-in tool doing the same.
const dir = tempHome("crabtalk-bench-ext-");
const socket = join(dir, "probe.sock");
const child = Bun.spawn([process.execPath, join(FIXTURES, "probe.ts"), "serve", "--socket", socket], {
  stdout: "ignore",
  stderr: "inherit",
});
let pipe: Awaited<ReturnType<typeof connectPipe>> | undefined;
for (let i = 0; i < 500 && !pipe; i++)
  pipe = await connectPipe({ unix: socket }).catch(() => Bun.sleep(10).then(() => undefined));
if (!pipe) throw new Error("probe did not listen");
const ext = new ExtClient(pipe, {
  service: "probe",
  onInfer: async () => "",
  onViolation: (why) => console.error(why),
  onDesync: (why) => console.error(why),
});
await ext.call({ hello: { version: "bench" } }, { timeoutMs: 10_000 });
await ext.call({ configure: { config: "{}" } }, { timeoutMs: 10_000 });
const schemas = await ext.call({ registerTools: {} }, { timeoutMs: 10_000 });
const viaExt = toolsFrom("probe", schemas.toolSchemas!.tools, ext, 30_000).tools.find((t) => t.name === "probe_echo")!;
const builtIn: Tool = {
  name: "echo",
  description: "Echoes text.",
  parameters: { type: "object" },
  execute: async (args) => ({ output: `echo: ${args.text}` }),
};

async function oneAtATime(tool: Tool): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < CALLS + 100; i++) {
    const t = performance.now();
    const r = await tool.execute({ text: "bench" }, ctx(i));
    if (r.output !== "echo: bench") throw new Error(`unexpected: ${r.output}`);
    if (i >= 100) out.push(performance.now() - t);
  }
  return out;
}

async function concurrent(tool: Tool): Promise<{ each: number[]; rounds: number[] }> {
  const each: number[] = [];
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const t = performance.now();
        const res = await tool.execute({ text: "bench" }, ctx(i));
        if (res.output !== "echo: bench") throw new Error(`unexpected: ${res.output}`);
        each.push(performance.now() - t);
      }),
    );
    rounds.push(performance.now() - t0);
  }
  return { each, rounds };
}

const extSerial = await oneAtATime(viaExt);
const inSerial = await oneAtATime(builtIn);
const extConc = await concurrent(viaExt);
const inConc = await concurrent(builtIn);
ext.close();
child.kill("SIGKILL");
rmSync(dir, { recursive: true, force: true });
printTable(
  `echo tool: through an extension (Unix socket, ext.proto) vs built in; ${CALLS} calls one at a time, ${ROUNDS} rounds of 100 in flight`,
  [
    ["one at a time, extension, median", fmt(median(extSerial))],
    ["one at a time, extension, p99", fmt(percentile(extSerial, 99))],
    ["one at a time, built in, median", fmt(median(inSerial))],
    ["one at a time, built in, p99", fmt(percentile(inSerial, 99))],
    ["100 in flight, extension, per call median", fmt(median(extConc.each))],
    ["100 in flight, extension, per call p99", fmt(percentile(extConc.each, 99))],
    ["100 in flight, extension, whole round median", fmt(median(extConc.rounds))],
    ["100 in flight, built in, per call median", fmt(median(inConc.each))],
    ["100 in flight, built in, per call p99", fmt(percentile(inConc.each, 99))],
  ],
);

// Daemons for 2-4.
const start = (config: string) => startTimed(config, "crabtalk-bench-ext-");
const stop = stopTimed;
async function waitRunning(c: CrabtalkClient, name: string, notPid = -1): Promise<number> {
  for (;;) {
    const s = (await c.request({ getServices: {} })).serviceList!.services.find((x) => x.name === name)!;
    if (s.status === "running" && s.pid !== notPid) return s.pid;
    await Bun.sleep(2);
  }
}

// 2. Turns through the daemon.
const fake = await FakeProvider.start();
const daemon = await start(
  turnConfig(fake.url, 'tools = ["read", "probe/*"]') + serviceSection("probe", "probe.ts", []),
);
writeFileSync(join(daemon.home, "work", "small.txt"), "echo: bench\n");
const client = await CrabtalkClient.connect({ home: daemon.home });
await waitRunning(client, "probe");
async function turn(tool: string, args: Record<string, unknown>): Promise<number> {
  fake.enqueue(
    sseReply(openaiSse({ model: "fake-model", toolCalls: [{ id: "c1", name: tool, args }] })),
    sseReply(openaiSse({ model: "fake-model", text: "ok" })),
  );
  const t = performance.now();
  for await (const _ of client.stream({ stream: { agent: "crab", content: "go" } })) void _;
  return performance.now() - t;
}
const turnExt: number[] = [];
const turnRead: number[] = [];
for (let i = 0; i < TURNS + 10; i++) {
  const a = await turn("probe_echo", { text: "bench" });
  const b = await turn("read", { path: join(daemon.home, "work", "small.txt") });
  if (i >= 10) {
    turnExt.push(a);
    turnRead.push(b);
  }
}
client.close();
await stop(daemon);
await fake.stop();
printTable(`a turn with one tool call through the daemon (fake provider), ${TURNS} turns each`, [
  ["extension echo, median", fmt(median(turnExt))],
  ["extension echo, p99", fmt(percentile(turnExt, 99))],
  ["built-in read, median", fmt(median(turnRead))],
  ["built-in read, p99", fmt(percentile(turnRead, 99))],
]);

// 3. Start time with three extensions against none.
const BASE = turnConfig("http://127.0.0.1:9");
const THREE =
  BASE +
  serviceSection("a", "probe.ts", ["--name", "a"]) +
  serviceSection("b", "probe.ts", ["--name", "b"]) +
  serviceSection("c", "reference.ts", []);
// Three services whose processes cost nothing to start (sh sleeping, never answering): what spawning costs the daemon itself.
const sleeper = (name: string) =>
  `\n[services.${name}]\ncommand = "/bin/sh"\nargs = ["-c", "sleep 30", "sh"]\nrestart = "never"\n`;
const THREE_IDLE = BASE + sleeper("a") + sleeper("b") + sleeper("c");
const startNone: number[] = [];
const startIdle: number[] = [];
const startThree: number[] = [];
const readyThree: number[] = [];
for (let i = 0; i < STARTS; i++) {
  const none = await start(BASE);
  startNone.push(none.ms);
  await stop(none);
  const idle = await start(THREE_IDLE);
  startIdle.push(idle.ms);
  await stop(idle);
  const t0 = performance.now();
  const three = await start(THREE);
  startThree.push(three.ms);
  const c = await CrabtalkClient.connect({ home: three.home });
  for (const n of ["a", "b", "c"]) await waitRunning(c, n);
  readyThree.push(performance.now() - t0);
  c.close();
  await stop(three);
}
printTable(`daemon start (spawn to first ping answered), ${STARTS} starts each`, [
  ["no services, median", fmt(median(startNone))],
  ["three extensions configured (bun processes booting on the same cores), median", fmt(median(startThree))],
  ["three services whose processes cost nothing to start, median", fmt(median(startIdle))],
  ["ratio", (median(startThree) / median(startNone)).toFixed(2)],
  ["three extensions: until all three are running, median", fmt(median(readyThree))],
]);

// 4. Crash to tools answering again (first restart: 1 s backoff included).
const recovery: number[] = [];
for (let i = 0; i < CRASHES; i++) {
  const d = await start(BASE + serviceSection("probe", "probe.ts", []));
  const c = await CrabtalkClient.connect({ home: d.home });
  const pid = await waitRunning(c, "probe");
  const t = performance.now();
  process.kill(pid, "SIGKILL");
  await waitRunning(c, "probe", pid);
  recovery.push(performance.now() - t);
  c.close();
  await stop(d);
}
printTable(`kill -9 of an extension until its tools answer again, ${CRASHES} crashes`, [
  ["median (1 s backoff included)", fmt(median(recovery))],
  ["max", fmt(Math.max(...recovery))],
  ["median minus the backoff (detect, spawn, handshake)", fmt(median(recovery) - 1000)],
]);
