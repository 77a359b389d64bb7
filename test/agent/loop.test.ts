/**
 * The agent loop driven by a scripted model: concurrency, result order,
 * refusals, failures that stay local, limits, and cancellation with a valid
 * history afterwards.
 */
import { describe, expect, test } from "bun:test";
import { runAgent, type RunAgentOptions } from "../../src/agent/loop.ts";
import type { LoopEvent } from "../../src/agent/types.ts";
import type { Message, ProviderEvent, ToolResultMessage } from "../../src/provider/types.ts";
import { allowAll, call, reply, scripted, tool, usage, type Step } from "./script.ts";

const user: Message = { role: "user", content: "hi" };

function options(stream: RunAgentOptions["stream"], extra: Partial<RunAgentOptions> = {}): RunAgentOptions {
  return {
    agent: "crab",
    session: 1,
    model: "test-model",
    history: [user],
    tools: [],
    stream,
    maxIterations: 8,
    authorize: allowAll,
    ...extra,
  };
}

async function collect(stream: AsyncIterable<LoopEvent>): Promise<LoopEvent[]> {
  const events: LoopEvent[] = [];
  for await (const ev of stream) events.push(ev);
  return events;
}

const ofType = <T extends LoopEvent["type"]>(events: LoopEvent[], type: T) =>
  events.filter((e): e is Extract<LoopEvent, { type: T }> => e.type === type);

function endOf(events: LoopEvent[]) {
  const last = events.at(-1);
  if (last?.type !== "end") throw new Error("stream did not end with `end`");
  return last;
}

/** Every assistant tool call has exactly one tool result after it. */
function expectValidHistory(messages: Message[]): void {
  const open = new Set<string>();
  for (const m of messages) {
    if (m.role === "assistant") {
      expect(open.size).toBe(0);
      for (const c of m.toolCalls ?? []) open.add(c.id);
    } else if (m.role === "tool") {
      expect(open.has(m.toolCallId)).toBe(true);
      open.delete(m.toolCallId);
    }
  }
  expect(open.size).toBe(0);
}

const messages = (events: LoopEvent[]) => ofType(events, "message").map((e) => e.message);

describe("runAgent", () => {
  test("a plain answer streams deltas and ends with the provider's stop reason", async () => {
    const s = scripted([reply({ text: "hello there", usage: usage(7, 3) })]);
    const events = await collect(runAgent(options(s.stream, { system: "be nice" }), new AbortController().signal));
    expect(
      ofType(events, "text_delta")
        .map((e) => e.text)
        .join(""),
    ).toBe("hello there");
    expect(events.map((e) => e.type)).toEqual(["text_delta", "text_delta", "model_end", "message", "end"]);
    const end = endOf(events);
    expect(end).toMatchObject({ stopReason: "stop", text: "hello there", model: "test-model" });
    expect(end.usage.promptTokens).toBe(7);
    expect(s.requests[0]!.system).toBe("be nice");
    expect(s.requests[0]!.messages).toEqual([user]);
  });

  test("two calls run at once, results come out in finish order and reach the model in call order", async () => {
    let aStarted = false;
    let bStarted = false;
    const waitFor = async (flag: () => boolean) => {
      while (!flag()) await Bun.sleep(2);
    };
    // Each tool waits until the other has started: this only completes when both run concurrently.
    const a = tool("a", async () => {
      aStarted = true;
      await waitFor(() => bStarted);
      await Bun.sleep(40); // a finishes after b
      return { output: "A done" };
    });
    const b = tool("b", async () => {
      bStarted = true;
      await waitFor(() => aStarted);
      return { output: "B done" };
    });
    const s = scripted([
      reply({ calls: [call("c1", "a", {}), call("c2", "b", {})], usage: usage(10, 5) }),
      reply({ text: "both done", usage: usage(20, 5) }),
    ]);
    const events = await collect(runAgent(options(s.stream, { tools: [a, b] }), new AbortController().signal));

    const types = events.map((e) => e.type);
    expect(types).toEqual([
      "model_end",
      "message",
      "tool_start",
      "tool_result",
      "tool_result",
      "message",
      "message",
      "tools_complete",
      "text_delta",
      "text_delta",
      "model_end",
      "message",
      "end",
    ]);
    expect(ofType(events, "tool_result").map((e) => e.callId)).toEqual(["c2", "c1"]);
    expect(ofType(events, "tool_result").every((e) => e.durationMs >= 0)).toBe(true);
    expect(ofType(events, "tool_result")[1]!.durationMs).toBeGreaterThanOrEqual(30);

    const second = s.requests[1]!.messages;
    expect(second.map((m) => m.role)).toEqual(["user", "assistant", "tool", "tool"]);
    expect((second[2] as ToolResultMessage).toolCallId).toBe("c1");
    expect((second[2] as ToolResultMessage).content).toBe("A done");
    expect((second[3] as ToolResultMessage).toolCallId).toBe("c2");
    const end = endOf(events);
    expect(end.stopReason).toBe("stop");
    expect(end.text).toBe("both done");
    expect(end.usage).toMatchObject({ promptTokens: 30, completionTokens: 10 });
    expectValidHistory([user, ...messages(events)]);
  });

  test("a tool not granted is refused at dispatch and an unknown one is named", async () => {
    const builtin = { kind: "builtin" as const, name: "builtin" };
    let ran = false;
    const read = tool("read", async () => ({ output: "x" }));
    const s = scripted([
      reply({ calls: [call("c1", "bash", { command: "rm -rf /" }), call("c2", "teleport", {})] }),
      reply({ text: "ok" }),
    ]);
    const events = await collect(
      runAgent(
        options(s.stream, {
          tools: [read],
          // bash exists (in the registry) but is not granted; teleport exists nowhere.
          lookup: (name) =>
            name === "read" || name === "bash"
              ? { found: "tool", entry: { tool: tool(name, async () => ({ output: "ran" })), source: builtin } }
              : { found: "none" },
          granted: (name) => name === "read",
          authorize: async () => {
            ran = true;
            return { allowed: true };
          },
        }),
        new AbortController().signal,
      ),
    );
    const results = ofType(events, "tool_result");
    expect(results.find((r) => r.callId === "c1")).toMatchObject({
      isError: true,
      output: "tool bash is not granted to agent crab",
    });
    expect(results.find((r) => r.callId === "c2")!.output).toStartWith("unknown tool teleport");
    expect(ran).toBe(false); // refused before any approval prompt
    expect(s.requests[0]!.tools!.map((t) => t.name)).toEqual(["read"]); // only granted tools are shown
    expect(endOf(events).stopReason).toBe("stop");
  });

  test("a bad argument yields an error result naming the field and the loop continues", async () => {
    const echo = tool("echo", async (args) => ({ output: String(args.text) }), {
      type: "object",
      properties: { text: { type: "string" }, times: { type: "integer", minimum: 1 } },
      required: ["text"],
      additionalProperties: false,
    });
    const s = scripted([
      reply({ calls: [call("c1", "echo", { text: "a", times: "3" }), call("c2", "echo", "{not json")] }),
      reply({ calls: [call("c3", "echo", { text: "fixed" })] }),
      reply({ text: "done" }),
    ]);
    const events = await collect(runAgent(options(s.stream, { tools: [echo] }), new AbortController().signal));
    const results = ofType(events, "tool_result");
    const c1 = results.find((r) => r.callId === "c1")!;
    expect(c1.isError).toBe(true);
    expect(c1.output).toContain("times: expected integer, got string");
    expect(results.find((r) => r.callId === "c2")!.output).toContain("must be a JSON object, not valid JSON");
    expect(results.find((r) => r.callId === "c3")).toMatchObject({ output: "fixed", isError: false });
    expect((s.requests[1]!.messages[2] as ToolResultMessage).content).toContain("times");
    expect(endOf(events).stopReason).toBe("stop");
  });

  test("authorize denial becomes an error result the model sees", async () => {
    let executed = false;
    const bash = tool("bash", async () => {
      executed = true;
      return { output: "ran" };
    });
    const s = scripted([reply({ calls: [call("c1", "bash", {})] }), reply({ text: "ok, I won't" })]);
    const events = await collect(
      runAgent(
        options(s.stream, { tools: [bash], authorize: async () => ({ allowed: false, reason: "denied by the user" }) }),
        new AbortController().signal,
      ),
    );
    expect(executed).toBe(false);
    expect(ofType(events, "tool_result")[0]).toMatchObject({
      isError: true,
      output: "bash was not run: denied by the user",
    });
    expect((s.requests[1]!.messages[2] as ToolResultMessage).content).toBe("bash was not run: denied by the user");
  });

  test("a throwing tool and a timed-out tool do not affect their sibling", async () => {
    const boom = tool("boom", async () => {
      throw new Error("kaboom");
    });
    let hangSignal: AbortSignal | undefined;
    const hang = tool("hang", (_args, ctx) => {
      hangSignal = ctx.signal;
      return new Promise(() => {}); // ignores its signal on purpose
    });
    const fine = tool("fine", async () => {
      await Bun.sleep(20);
      return { output: "fine" };
    });
    const s = scripted([
      reply({ calls: [call("c1", "boom", {}), call("c2", "hang", {}), call("c3", "fine", {})] }),
      reply({ text: "ok" }),
    ]);
    const events = await collect(
      runAgent(options(s.stream, { tools: [boom, hang, fine], toolTimeoutMs: 150 }), new AbortController().signal),
    );
    const byId = new Map(ofType(events, "tool_result").map((r) => [r.callId, r]));
    expect(byId.get("c1")).toMatchObject({ isError: true, output: "boom failed: kaboom" });
    expect(byId.get("c2")).toMatchObject({ isError: true });
    expect(byId.get("c2")!.output).toStartWith("tool hang timed out after");
    expect(byId.get("c3")).toMatchObject({ isError: false, output: "fine" });
    expect(hangSignal?.aborted).toBe(true);
    expect(ofType(events, "tool_result").map((r) => r.callId)).toEqual(["c1", "c3", "c2"]);
    expect(endOf(events).stopReason).toBe("stop");
  });

  test("stops at max_iterations with a valid history", async () => {
    const noop = tool("noop", async () => ({ output: "again" }));
    const steps: Step[] = [1, 2, 3].map((i) => reply({ calls: [call(`c${i}`, "noop", {})] }));
    const s = scripted(steps);
    const events = await collect(
      runAgent(options(s.stream, { tools: [noop], maxIterations: 2 }), new AbortController().signal),
    );
    expect(s.requests.length).toBe(2);
    expect(endOf(events).stopReason).toBe("max_iterations");
    expectValidHistory([user, ...messages(events)]);
  });

  test("stops when the turn's tokens pass max_tokens_per_turn, without running the pending calls", async () => {
    let runs = 0;
    const noop = tool("noop", async () => {
      runs++;
      return { output: "ok" };
    });
    const s = scripted([
      reply({ calls: [call("c1", "noop", {})], usage: usage(60, 10) }),
      reply({ calls: [call("c2", "noop", {})], usage: usage(80, 10) }),
    ]);
    const events = await collect(
      runAgent(options(s.stream, { tools: [noop], maxTokensPerTurn: 100 }), new AbortController().signal),
    );
    const end = endOf(events);
    expect(end.stopReason).toBe("token_budget");
    expect(end.usage).toMatchObject({ promptTokens: 140, completionTokens: 20 });
    expect(runs).toBe(1);
    expect(ofType(events, "tool_result").at(-1)).toMatchObject({ callId: "c2", isError: true });
    expectValidHistory([user, ...messages(events)]);
  });

  test("a provider error ends the turn with its HTTP status, or 502 without one", async () => {
    const failing = (status: number | undefined): Step =>
      async function* () {
        yield { type: "start", model: "m" };
        const ev: ProviderEvent = {
          type: "error",
          stopReason: "error",
          error: { ...(status ? { status } : {}), message: "rate limited", retryable: true },
          message: { role: "assistant", content: "" },
          usage: usage(1, 0),
        };
        yield ev;
      };
    const e429 = endOf(await collect(runAgent(options(scripted([failing(429)]).stream), new AbortController().signal)));
    expect(e429).toMatchObject({ stopReason: "error", error: { code: 429, message: "rate limited" } });
    const e502 = endOf(
      await collect(runAgent(options(scripted([failing(undefined)]).stream), new AbortController().signal)),
    );
    expect(e502.error?.code).toBe(502);
  });

  test("cancel mid-stream aborts the request and keeps the partial text", async () => {
    const controller = new AbortController();
    let providerSignal: AbortSignal | undefined;
    const slow: Step = async function* (_req, signal) {
      providerSignal = signal;
      yield { type: "start", model: "m" };
      yield { type: "text_delta", text: "partial " };
      await new Promise(() => {}); // a provider that never finishes and ignores the signal
    };
    const stream = runAgent(options(scripted([slow]).stream), controller.signal);
    const events: LoopEvent[] = [];
    for await (const ev of stream) {
      events.push(ev);
      if (ev.type === "text_delta") controller.abort();
    }
    expect(providerSignal?.aborted).toBe(true);
    const end = endOf(events);
    expect(end.stopReason).toBe("aborted");
    expect(end.text).toBe("partial ");
    expect(messages(events)).toEqual([{ role: "assistant", content: "partial ", model: "m", stopReason: "aborted" }]);
    expect(await stream.result()).toEqual(end);
  });

  test("cancel keeps the partial text the provider shares through textSoFar, not a copy of the deltas", async () => {
    const controller = new AbortController();
    let providerText = "";
    const sharing: Step = async function* () {
      yield { type: "start", model: "m", textSoFar: () => providerText };
      // The provider has read more than it has forwarded yet (its next delta is parsed, not yet yielded).
      providerText = "shared and more";
      yield { type: "text_delta", text: "shared " };
      await new Promise(() => {}); // never finishes, ignores the signal
    };
    const events: LoopEvent[] = [];
    for await (const ev of runAgent(options(scripted([sharing]).stream), controller.signal)) {
      events.push(ev);
      if (ev.type === "text_delta") controller.abort();
    }
    // The provider's text, not the deltas the loop saw: the loop keeps no copy of its own.
    expect(endOf(events).text).toBe("shared and more");
    expect(messages(events)).toEqual([
      { role: "assistant", content: "shared and more", model: "m", stopReason: "aborted" },
    ]);
  });

  test("cancel mid-tool gives unfinished calls a cancelled result and aborts their signals", async () => {
    const controller = new AbortController();
    let slowSignal: AbortSignal | undefined;
    const quick = tool("quick", async () => ({ output: "quick" }));
    const slow = tool("slow", (_args, ctx) => {
      slowSignal = ctx.signal;
      return new Promise(() => {});
    });
    const s = scripted([reply({ text: "working", calls: [call("c1", "slow", {}), call("c2", "quick", {})] })]);
    const stream = runAgent(options(s.stream, { tools: [slow, quick] }), controller.signal);
    const events: LoopEvent[] = [];
    for await (const ev of stream) {
      events.push(ev);
      if (ev.type === "tool_result" && ev.callId === "c2") controller.abort();
    }
    expect(slowSignal?.aborted).toBe(true);
    expect(ofType(events, "tool_result").map((r) => [r.callId, r.output])).toEqual([
      ["c2", "quick"],
      ["c1", "cancelled"],
    ]);
    const end = endOf(events);
    expect(end.stopReason).toBe("aborted");
    expect(s.requests.length).toBe(1);
    const history = [user, ...messages(events)];
    expectValidHistory(history);
    expect(history.map((m) => m.role)).toEqual(["user", "assistant", "tool", "tool"]);
  });

  test("an already aborted signal ends at once without calling the model", async () => {
    const controller = new AbortController();
    controller.abort();
    const s = scripted([reply({ text: "never" })]);
    const events = await collect(runAgent(options(s.stream), controller.signal));
    expect(events.map((e) => e.type)).toEqual(["end"]);
    expect(endOf(events).stopReason).toBe("aborted");
    expect(s.requests.length).toBe(0);
  });
});

test("a stream function that throws (against its contract) ends the turn with an error, not a throw", async () => {
  const events = await collect(
    runAgent(
      options(() => {
        throw new Error("boom");
      }),
      new AbortController().signal,
    ),
  );
  expect(endOf(events)).toMatchObject({ stopReason: "error", error: { code: 502, message: "boom" } });
});

test("thinking deltas are forwarded and request options reach the model", async () => {
  const step: Step = async function* () {
    yield { type: "start", model: "m" };
    yield { type: "thinking_delta", text: "hmm" };
    yield { type: "text_delta", text: "yes" };
    yield {
      type: "done",
      stopReason: "stop",
      message: { role: "assistant", content: "yes", thinking: [{ type: "thinking", text: "hmm" }] },
      usage: usage(1, 1),
    };
  };
  const s = scripted([step]);
  const events = await collect(
    runAgent(options(s.stream, { thinking: true, maxTokens: 64 }), new AbortController().signal),
  );
  expect(events.slice(0, 2)).toEqual([
    { type: "thinking_delta", text: "hmm" },
    { type: "text_delta", text: "yes" },
  ]);
  expect(s.requests[0]).toMatchObject({ thinking: true, maxTokens: 64, model: "test-model" });
  expect(s.requests[0]!.tools).toBeUndefined();
});
