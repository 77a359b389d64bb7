/**
 * Multi-agent delegation against the compiled daemon. The fake provider
 * answers each agent from its own script, chosen by model name: lead
 * (lead-model) delegates to researcher (res-model) and coder (cod-model).
 * Tasks are real sessions, run at once, are scoped at dispatch, route their
 * approvals to the root client, die with their cancelled root, are listed
 * and killable over the Tasks RPCs, and charge their tokens to their own
 * agents while the root's StreamEnd reports the total.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply, type RecordedRequest, type Reply } from "../helpers/fake-provider.ts";
import { openaiSse, type ScriptedToolCall } from "../helpers/sse-builders.ts";
import { endOf, pidAlive, streamTurn, toolResultsOf, waitFor } from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;

/** Per model: a function from the request to the reply (queue of scripted steps by call count). */
const scripts = new Map<string, (req: RecordedRequest, n: number) => Reply>();
const calls = new Map<string, number>();

const text = (
  model: string,
  t: string,
  extra: { gate?: Promise<unknown>; usage?: { prompt: number; completion: number } } = {},
) =>
  sseReply(
    openaiSse({ model, text: t, ...(extra.usage ? { usage: extra.usage } : {}) }),
    extra.gate ? { gate: extra.gate } : {},
  );
const tools = (model: string, toolCalls: ScriptedToolCall[]) => sseReply(openaiSse({ model, toolCalls }));

function modelOf(req: RecordedRequest): string {
  return (req.body as { model?: string } | undefined)?.model ?? "";
}

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route((req) => {
    const model = modelOf(req);
    const n = (calls.get(model) ?? 0) + 1;
    calls.set(model, n);
    return scripts.get(model)?.(req, n);
  });
  d = await startDaemon({
    config: `[daemon]
tcp = false
approval_timeout_ms = 10000

[provider.fake]
kind = "openai"
base_url = "${fake.url}/v1"
models = ["lead-model", "res-model", "cod-model"]

[agents.lead]
model = "lead-model"
tools = ["read"]
members = ["researcher", "coder"]

[agents.researcher]
model = "res-model"
tools = ["read"]
members = ["lead"]

[agents.coder]
model = "cod-model"
tools = ["bash"]

[permissions.coder]
bash = "ask"
`,
  });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

function reset(): void {
  scripts.clear();
  calls.clear();
}

describe("delegation", () => {
  test("kill -9 mid-task, restart: every session of the tree loads, the interrupted task says so", async () => {
    reset();
    scripts.set("lead-model", () =>
      tools("lead-model", [
        { id: "call_k9", name: "delegate", args: { tasks: [{ agent: "researcher", message: "hang" }] } },
      ]),
    );
    scripts.set("res-model", () => ({ kind: "hang" }));
    const config = await Bun.file(`${d.home}/crabtalk.toml`).text();
    const first = await startDaemon({ config });
    const c = await first.client();
    const turn = streamTurn(c, { agent: "lead", content: "then crash" }).catch(() => []);
    let taskSession = 0;
    await waitFor(
      async () => {
        const t = (await c.request({ tasks: {} })).tasks!.tasks[0];
        taskSession = Number(t?.session ?? 0);
        return taskSession > 0 && (calls.get("res-model") ?? 0) > 0;
      },
      10_000,
      "the task to be waiting on its model",
    );
    // No wait for the task's first message: a turn's user message is written before its model is called.
    await first.kill9();
    await turn;
    await using again = await startDaemon({ home: first.home });
    const c2 = await again.client();
    const sessions = (await c2.request({ sessions: { limit: 10 } })).sessions!.sessions;
    expect(sessions.length).toBe(2);
    for (const s of sessions) {
      const h = (await c2.request({ getHistory: { session: s.id } })).history!;
      expect(h.messages[0]!.role).toBe("user");
    }
    // The task's session goes on: its cut-off turn is marked interrupted, and it answers again.
    scripts.set("res-model", () => text("res-model", "resumed"));
    const resumed = await streamTurn(c2, { agent: "", session: taskSession, content: "go on" });
    expect(endOf(resumed).stopReason).toBe("stop");
    await waitFor(
      () => again.stderr().includes(`session ${taskSession}: the turn started at seq`),
      10_000,
      "the interrupted mark",
    );
    expect(again.stderr()).toContain("cut off by a crash; marked interrupted");
    c2.close();
  }, 30_000);

  test("lead delegates to researcher and coder at once; results in task order; child sessions linked; usage rolled up", async () => {
    reset();
    // Both tasks wait at a barrier until both are running: run one after the other, neither could finish.
    let arrived = 0;
    let open!: () => void;
    const barrier = new Promise<void>((resolve) => {
      open = resolve;
    });
    const atBarrier = () => {
      if (++arrived === 2) open();
      return barrier;
    };
    scripts.set("lead-model", (_req, n) =>
      n === 1
        ? tools("lead-model", [
            {
              id: "call_d",
              name: "delegate",
              args: {
                tasks: [
                  { agent: "researcher", message: "find facts" },
                  { agent: "coder", message: "write code" },
                ],
              },
            },
          ])
        : text("lead-model", "all done"),
    );
    scripts.set("res-model", () =>
      text("res-model", "facts found", { gate: atBarrier(), usage: { prompt: 100, completion: 10 } }),
    );
    scripts.set("cod-model", () =>
      text("cod-model", "code written", { gate: atBarrier(), usage: { prompt: 200, completion: 20 } }),
    );
    const c = await d.client();
    const events = await streamTurn(c, { agent: "lead", content: "split the work" });
    const leadSession = events[0]!.session;
    const result = events.find((e) => e.toolResult)!.toolResult!;
    expect(result.isError).toBe(false);
    const out = JSON.parse(result.output) as { agent: string; session: number; result: string; error: string }[];
    expect(out.map((r) => [r.agent, r.result, r.error])).toEqual([
      ["researcher", "facts found", ""],
      ["coder", "code written", ""],
    ]);
    // Both child sessions exist, created by the delegation, linked to the parent.
    const sessions = (await c.request({ sessions: { limit: 100 } })).sessions!.sessions;
    for (const r of out) {
      const s = sessions.find((x) => x.id === r.session)!;
      expect(s.createdBy).toBe(`delegate:${leadSession}`);
      expect(s.agent).toBe(r.agent);
    }
    expect(JSON.parse(result.details).tasks.map((t: { session: number }) => t.session)).toEqual(
      out.map((r) => r.session),
    );
    // Tokens: each task's are charged to its own agent; the root's StreamEnd reports the total of its tasks.
    const end = endOf(events);
    expect(end.tasksUsage).toMatchObject({ promptTokens: 300, completionTokens: 30 });
    const usage = (await c.request({ usage: {} })).usage!.rows;
    expect(usage.find((r) => r.agent === "researcher")!.usage!.promptTokens).toBeGreaterThanOrEqual(100);
    expect(usage.find((r) => r.agent === "coder")!.usage!.promptTokens).toBeGreaterThanOrEqual(200);
    c.close();
    // replay of the parent shows the tree: each task's own timeline nested under the delegate call.
    const replay = await runCrabtalk(d.home, ["replay", String(leadSession)]);
    expect(replay.code).toBe(0);
    const nested = replay.stdout.split("\n").filter((l) => l.startsWith("  ┆ "));
    expect(nested.some((l) => l.includes(`session ${out[0]!.session}`) && l.includes("agent researcher"))).toBe(true);
    expect(nested.some((l) => l.includes("facts found"))).toBe(true);
    expect(nested.some((l) => l.includes("code written"))).toBe(true);
    expect(replay.stdout.indexOf("facts found")).toBeLessThan(replay.stdout.indexOf("all done"));
  });

  test("background delegation, then collect, returns both results", async () => {
    reset();
    let ids: number[] = [];
    scripts.set("lead-model", (req, n) => {
      if (n === 1)
        return tools("lead-model", [
          {
            id: "call_bg",
            name: "delegate",
            args: {
              background: true,
              tasks: [
                { agent: "researcher", message: "a" },
                { agent: "coder", message: "b" },
              ],
            },
          },
        ]);
      if (n === 2) {
        ids = (JSON.parse(toolResultsOf(req)[0]!.text) as { started: { id: number }[] }).started.map((t) => t.id);
        return tools("lead-model", [{ id: "call_collect", name: "collect", args: { ids, timeout_s: 30 } }]);
      }
      return text("lead-model", "collected");
    });
    scripts.set("res-model", () => text("res-model", "bg research"));
    scripts.set("cod-model", () => text("cod-model", "bg code"));
    const c = await d.client();
    const events = await streamTurn(c, { agent: "lead", content: "in the background" });
    c.close();
    const results = events.filter((e) => e.toolResult).map((e) => e.toolResult!);
    expect(results).toHaveLength(2);
    const collected = JSON.parse(results[1]!.output) as { tasks: { id: number; state: string; result: string }[] };
    expect(collected.tasks.map((t) => [t.id, t.state, t.result])).toEqual([
      [ids[0]!, "done", "bg research"],
      [ids[1]!, "done", "bg code"],
    ]);
  });

  test("refusals at dispatch: a non-member, an unknown agent, a cycle; a task cannot use a tool its agent lacks", async () => {
    reset();
    scripts.set("lead-model", (_req, n) =>
      n === 1
        ? tools("lead-model", [
            { id: "c1", name: "delegate", args: { tasks: [{ agent: "crab", message: "x" }] } },
            { id: "c2", name: "delegate", args: { tasks: [{ agent: "ghost", message: "x" }] } },
            { id: "c3", name: "delegate", args: { tasks: [{ agent: "researcher", message: "loop back" }] } },
          ])
        : text("lead-model", "ok"),
    );
    // The researcher tries to hand the work back to lead (a cycle), then to run bash (lead lacks it too; researcher has read only).
    scripts.set("res-model", (req, n) =>
      n === 1
        ? tools("res-model", [
            { id: "r1", name: "delegate", args: { tasks: [{ agent: "lead", message: "back to you" }] } },
            { id: "r2", name: "bash", args: { command: "echo should-not-run" } },
          ])
        : text(
            "res-model",
            `saw: ${toolResultsOf(req)
              .map((r) => r.text)
              .join(" | ")}`,
          ),
    );
    const c = await d.client();
    const events = await streamTurn(c, { agent: "lead", content: "test the limits" });
    c.close();
    const results = events.filter((e) => e.toolResult).map((e) => e.toolResult!);
    expect(results[0]!.output).toContain("agent crab is not in lead's members (researcher, coder)");
    expect(results[1]!.output).toContain('unknown agent "ghost"');
    const inner = JSON.parse(results[2]!.output) as { result: string }[];
    expect(inner[0]!.result).toContain("agent lead is already on this chain (lead -> researcher): a cycle");
    expect(inner[0]!.result).toContain("tool bash is not granted to agent researcher");
  });

  test("an ask tool inside a task is approved from the root client's connection", async () => {
    reset();
    scripts.set("lead-model", (_req, n) =>
      n === 1
        ? tools("lead-model", [
            { id: "call_ask", name: "delegate", args: { tasks: [{ agent: "coder", message: "run it" }] } },
          ])
        : text("lead-model", "done"),
    );
    scripts.set("cod-model", (req, n) =>
      n === 1
        ? tools("cod-model", [{ id: "b1", name: "bash", args: { command: "echo approved-in-task" } }])
        : text("cod-model", toolResultsOf(req)[0]!.text),
    );
    const c = await d.client();
    const events: StreamEvent[] = [];
    let approval: StreamEvent["approval"];
    for await (const r of c.stream({ stream: { agent: "lead", content: "delegate something risky" } })) {
      const ev = r.stream;
      if (!ev) continue;
      events.push(ev);
      if (ev.approval) {
        approval = ev.approval;
        await c.request({ approve: { callId: ev.approval.callId, response: "allow", session: ev.approval.session } });
      }
    }
    c.close();
    expect(approval?.agent).toBe("coder");
    expect(approval?.session).not.toBe(events[0]!.session);
    const out = JSON.parse(events.find((e) => e.toolResult)!.toolResult!.output) as { result: string }[];
    expect(out[0]!.result).toContain("approved-in-task");
  });

  test("cancelling the root turn mid-task kills the task's process; every session of the tree ends aborted", async () => {
    reset();
    scripts.set("lead-model", () =>
      tools("lead-model", [
        { id: "call_long", name: "delegate", args: { tasks: [{ agent: "coder", message: "sleep" }] } },
      ]),
    );
    scripts.set("cod-model", () =>
      tools("cod-model", [{ id: "s1", name: "bash", args: { command: "echo $$ > task.pid; sleep 60" } }]),
    );
    const c = await d.client();
    let root = 0;
    const seen: StreamEvent[] = [];
    const run = (async () => {
      for await (const r of c.stream({ stream: { agent: "lead", content: "long" } })) {
        if (r.stream) seen.push(r.stream);
        if (r.stream?.start) root = r.stream.start.session;
      }
    })();
    // The task's bash asks for approval (coder has bash = "ask"): answer it from the root's connection.
    await waitFor(() => seen.some((e) => e.approval), 10_000, "the task's approval request");
    const ask = seen.find((e) => e.approval)!.approval!;
    await c.request({ approve: { callId: ask.callId, response: "allow", session: ask.session } });
    const pidFile = `${d.home}/work/task.pid`;
    await waitFor(
      async () => (await Bun.file(pidFile).exists()) && (await Bun.file(pidFile).text()).trim() !== "",
      10_000,
      "the task's sleep to start",
    );
    const pid = Number((await Bun.file(pidFile).text()).trim());
    expect(pidAlive(pid)).toBe(true);
    await c.request({ cancel: { session: root } });
    await run;
    expect(endOf(seen).stopReason).toBe("aborted");
    await waitFor(() => !pidAlive(pid), 10_000, "the task's sleep to be killed");
    const tasks = (await c.request({ tasks: {} })).tasks!.tasks;
    const task = tasks.find((t) => t.session === ask.session)!;
    expect(task.status).toBe("killed");
    // The task's own turn ended aborted in its session's trace.
    const trace: StreamEvent[] = [];
    for await (const r of c.stream({ attach: { session: Number(task.session), afterSeq: 0 } })) {
      if (r.stream) trace.push(r.stream);
      if (r.stream?.end) break;
    }
    expect(trace.find((e) => e.end)!.end!.stopReason).toBe("aborted");
    c.close();
  }, 30_000);

  test("`crabtalk tasks` lists tasks; KillTaskMsg ends one and the delegator reads its error", async () => {
    reset();
    scripts.set("lead-model", (req, n) =>
      n === 1
        ? tools("lead-model", [
            { id: "k1", name: "delegate", args: { tasks: [{ agent: "researcher", message: "hang" }] } },
          ])
        : text("lead-model", `delegator saw: ${toolResultsOf(req)[0]!.text}`),
    );
    scripts.set("res-model", () => ({ kind: "hang" }));
    const c = await d.client();
    const turn = streamTurn(c, { agent: "lead", content: "start and kill" });
    let id = 0;
    await waitFor(
      async () => {
        const running = (await c.request({ tasks: {} })).tasks!.tasks.filter((t) => t.status === "running");
        id = Number(running[0]?.id ?? 0);
        return id > 0;
      },
      10_000,
      "the task to run",
    );
    const listed = await runCrabtalk(d.home, ["tasks", "--json", "--socket", d.socket]);
    const rows = JSON.parse(listed.stdout) as { id: number; agent: string; status: string }[];
    expect(rows.find((t) => Number(t.id) === id)).toMatchObject({ agent: "researcher", status: "running" });
    const killed = await runCrabtalk(d.home, ["tasks", "kill", String(id), "--socket", d.socket]);
    expect(killed.code).toBe(0);
    const events = await turn;
    const out = JSON.parse(events.find((e) => e.toolResult)!.toolResult!.output) as { error: string }[];
    expect(out[0]!.error).toContain(`task ${id} was killed`);
    expect(endOf(events).stopReason).toBe("stop");
    c.close();
  });
});
