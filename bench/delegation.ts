/**
 * Delegation costs, `bun bench/delegation.ts` (compiled binary: dist/crabtalk
 * or $CRABTALK_BIN), against a fake provider on loopback:
 *
 * 1. Overhead of a delegation: from the delegating ToolStart to the task's
 *    first token, against a direct turn's start to its first token (the
 *    daemon's event timestamps, ms; medians over TURNS runs).
 * 2. Eight tasks in parallel against one: wall time of a delegate call with
 *    8 tasks against one with a single task, each task's model answer
 *    taking TASK_MS (so the ideal ratio is 1.0).
 */
import { startDaemon } from "../test/helpers/daemon.ts";
import { FakeProvider, sseReply, type RecordedRequest } from "../test/helpers/fake-provider.ts";
import { openaiSse } from "../test/helpers/sse-builders.ts";
import { median, printTable } from "./stats.ts";

const TURNS = Number(process.env.TURNS ?? 30);
const TASK_MS = Number(process.env.TASK_MS ?? 200);

const fake = await FakeProvider.start();
let fan = 1;
fake.route((req: RecordedRequest) => {
  const body = req.body as { model?: string; messages?: { role: string }[] } | undefined;
  const model = body?.model ?? "";
  const afterTools = (body?.messages ?? []).some((m) => m.role === "tool");
  if (model === "lead-model") {
    if (afterTools) return sseReply(openaiSse({ model, text: "done" }));
    const tasks = Array.from({ length: fan }, (_, i) => ({ agent: "worker", message: `task ${i}` }));
    return sseReply(openaiSse({ model, toolCalls: [{ id: "d", name: "delegate", args: { tasks } }] }));
  }
  if (model === "slow-model") return sseReply(openaiSse({ model, text: "slow answer" }), { gate: Bun.sleep(TASK_MS) });
  return sseReply(openaiSse({ model, text: "first token here" }));
});

await using d = await startDaemon({
  config: `[daemon]
tcp = false

[provider.fake]
kind = "openai"
base_url = "${fake.url}/v1"
models = ["lead-model", "worker-model", "slow-model"]

[agents.lead]
model = "lead-model"
tools = []
members = ["worker", "slow"]

[agents.worker]
model = "worker-model"

[agents.slow]
model = "slow-model"
`,
});
const c = await d.client();

// 1. First token of a direct turn vs a delegated task, in the daemon's own event timestamps (ms):
// a direct turn from its start event, a task from the delegating ToolStart to the task's first chunk.
const direct: number[] = [];
const delegated: number[] = [];
for (let i = 0; i < TURNS; i++) {
  let started = 0;
  for await (const r of c.stream({ stream: { agent: "worker", content: "hi" } })) {
    if (r.stream?.start) started = Number(r.stream.timestampMs);
    if (r.stream?.chunk) {
      direct.push(Number(r.stream.timestampMs) - started);
      break;
    }
  }
  fan = 1;
  const watch = c.stream({ subscribeEvents: { agent: "worker" } })[Symbol.asyncIterator]();
  let toolStart = 0;
  const turn = (async () => {
    for await (const r of c.stream({ stream: { agent: "lead", content: "delegate" } })) {
      if (r.stream?.toolStart) toolStart = Number(r.stream.timestampMs);
      if (r.stream?.end) return;
    }
  })();
  let firstChunk = 0;
  for (;;) {
    const next = await watch.next();
    if (next.done) break;
    if (next.value.event?.kind === "chunk") {
      firstChunk = Number(next.value.event.timestampMs);
      break;
    }
  }
  await watch.return?.();
  await turn;
  delegated.push(firstChunk - toolStart);
}

// 2. Eight slow tasks at once vs one.
async function delegateWall(n: number): Promise<number> {
  fan = n;
  const t = performance.now();
  for await (const r of c.stream({ stream: { agent: "lead", content: `fan out ${n}` } })) if (r.stream?.end) break;
  return performance.now() - t;
}
fake.route((req: RecordedRequest) => {
  const body = req.body as { model?: string; messages?: { role: string }[] } | undefined;
  const model = body?.model ?? "";
  const afterTools = (body?.messages ?? []).some((m) => m.role === "tool");
  if (model === "lead-model") {
    if (afterTools) return sseReply(openaiSse({ model, text: "done" }));
    const tasks = Array.from({ length: fan }, (_, i) => ({ agent: "slow", message: `task ${i}` }));
    return sseReply(openaiSse({ model, toolCalls: [{ id: "d", name: "delegate", args: { tasks } }] }));
  }
  return sseReply(openaiSse({ model, text: "slow answer" }), { gate: Bun.sleep(TASK_MS) });
});
const one: number[] = [];
const eight: number[] = [];
for (let i = 0; i < 7; i++) {
  one.push(await delegateWall(1));
  eight.push(await delegateWall(8));
}
c.close();
await fake.stop();

const ms = (x: number) => `${x.toFixed(1)} ms`;
printTable("delegation (medians)", [
  ["direct turn: start to first token (daemon clock)", ms(median(direct))],
  ["delegated task: ToolStart to the task's first token (session created, turn queued)", ms(median(delegated))],
  [
    "overhead of a delegation",
    `${ms(median(delegated) - median(direct))} (ratio ${(median(delegated) / median(direct)).toFixed(2)})`,
  ],
  [`1 task of ${TASK_MS} ms: delegating turn wall time`, ms(median(one))],
  [`8 parallel tasks of ${TASK_MS} ms: wall time`, ms(median(eight))],
  ["8 parallel / 1 (ideal 1.0)", (median(eight) / median(one)).toFixed(2)],
]);
