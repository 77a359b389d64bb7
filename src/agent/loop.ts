/**
 * The agent loop: one turn of one agent, as a stream of LoopEvents. It asks
 * the model, forwards deltas, runs every tool call of a response at once,
 * feeds the results back in call order, and repeats until the model answers
 * without tools, a limit is reached, the provider fails, or the turn is
 * cancelled. It owns no I/O: the model is a StreamFn, tools are Tool
 * objects, approvals are a callback.
 *
 * History contract: every `message` event is final when emitted and the
 * sequence of them, appended to the prior history, is always a valid
 * conversation: each assistant tool call is followed by exactly one tool
 * result, also after cancel or a stop for budget.
 *
 * The stream never throws. It ends with exactly one `end` event, whose
 * value is also the stream's `result()`.
 */
import {
  addUsage,
  emptyUsage,
  totalTokens,
  type AssistantMessage,
  type EncodedPrefix,
  type Message,
  type ModelRequest,
  type ProviderEvent,
  type StreamFn,
  type ToolCall,
  type ToolResultMessage,
  type Usage,
} from "../provider/types.ts";
import { errorMessage } from "../util/abort.ts";
import { TextBuilder } from "../util/text-builder.ts";
import { EventStream } from "../util/event-stream.ts";
import { Semaphore } from "../util/semaphore.ts";
import { DEFAULT_TOOL_TIMEOUT_MS, runCall, type CallResult, type DispatchContext } from "./dispatch.ts";
import type { Authorization, LoopEvent, Tool, ToolLookup, ToolSource, TurnStopReason } from "./types.ts";

/**
 * Tool calls one model reply may make: 32 covers any real fan-out (reading a
 * dozen files at once); a reply asking for hundreds is a runaway or an
 * injection, and its extra calls get an error result asking to batch.
 */
export const DEFAULT_MAX_CALLS_PER_REPLY = 32;
/** Calls of one turn executing at once; the rest wait their turn (bounded by the per-reply cap). */
export const DEFAULT_MAX_CONCURRENT_TOOLS = 8;

export interface RunAgentOptions {
  agent: string;
  session: number;
  model: string;
  system?: string;
  /** Prior messages, the new user message last (with `head`, those after it). Not mutated. */
  history: Message[];
  /**
   * The history's first messages as a kept request prefix the stream takes
   * (StreamFn.takesPrefix), not built: every request of the turn carries it
   * as ModelRequest.head.
   */
  head?: EncodedPrefix;
  /** The granted, available tools: these are shown to the model. */
  tools: Tool[];
  /**
   * Finds a called tool at call time (a registry: a tool withdrawn mid-turn
   * answers "unavailable"); default: the offered tools only.
   */
  lookup?(name: string): ToolLookup;
  /** Whether the grants cover a tool; default: it is among the offered tools. */
  granted?(name: string, source: ToolSource): boolean;
  /** Applied to every tool result's text (secret redaction). */
  transformOutput?(text: string): string;
  /** Cap on one result's text; default in dispatch. */
  maxOutputChars?: number;
  /** Calls allowed per model reply; default DEFAULT_MAX_CALLS_PER_REPLY. */
  maxCallsPerReply?: number;
  /** Calls of this turn running at once; default DEFAULT_MAX_CONCURRENT_TOOLS. */
  maxConcurrentTools?: number;
  /** Daemon-wide execution slots shared by every turn, if any. */
  sharedToolSlots?: Semaphore;
  /** Longest arguments a call may have; longer calls are refused (and shortened in history). Default 1 MiB. */
  maxArgumentChars?: number;
  stream: StreamFn;
  /** Model calls allowed in this turn. */
  maxIterations: number;
  /** Stop once the turn's prompt + completion tokens pass this. */
  maxTokensPerTurn?: number;
  thinking?: boolean;
  maxTokens?: number;
  /** Approvals; called only for granted, schema-valid calls. */
  authorize(call: ToolCall, source: ToolSource, signal: AbortSignal): Promise<Authorization>;
  /** Per-call execution limit; default DEFAULT_TOOL_TIMEOUT_MS. */
  toolTimeoutMs?: number;
}

export type LoopEnd = Extract<LoopEvent, { type: "end" }>;

/** Status used when the provider failed without an HTTP status (network, bad stream). */
const BAD_GATEWAY = 502;

export function runAgent(options: RunAgentOptions, signal: AbortSignal): EventStream<LoopEvent, LoopEnd> {
  const out = new EventStream<LoopEvent, LoopEnd>();
  void drive(options, signal, out).catch((err: unknown) => {
    // A bug in the loop itself; still end the stream with one `end` so callers read one shape.
    const end: LoopEnd = {
      type: "end",
      stopReason: "error",
      usage: emptyUsage(),
      model: options.model,
      text: "",
      error: { code: 500, message: `agent loop failed: ${errorMessage(err)}` },
    };
    out.push(end);
    out.end(end);
  });
  return out;
}

async function drive(
  options: RunAgentOptions,
  signal: AbortSignal,
  out: EventStream<LoopEvent, LoopEnd>,
): Promise<void> {
  const produced: Message[] = [];
  let usage = emptyUsage();
  let model = options.model;
  let text = "";

  const emitMessage = (message: Message) => {
    produced.push(message);
    out.push({ type: "message", message });
  };
  const finish = (stopReason: TurnStopReason, error?: { code: number; message: string }) => {
    const end: LoopEnd = {
      type: "end",
      stopReason,
      usage,
      model,
      text,
      ...(error ? { error } : {}),
      ...(totalTokens(toolUsage) > 0 ? { toolUsage } : {}),
    };
    out.push(end);
    out.end(end);
  };

  const offered = new Map(options.tools.map((t) => [t.name, t]));
  const ownSource: ToolSource = { kind: "builtin", name: "builtin" };
  const turnSlots = new Semaphore(options.maxConcurrentTools ?? DEFAULT_MAX_CONCURRENT_TOOLS);
  const shared = options.sharedToolSlots;
  const dispatch: DispatchContext = {
    agent: options.agent,
    session: options.session,
    offered: options.tools,
    lookup:
      options.lookup ??
      ((name) => {
        const tool = offered.get(name);
        return tool ? { found: "tool", entry: { tool, source: ownSource } } : { found: "none" };
      }),
    granted: options.granted ?? ((name) => offered.has(name)),
    authorize: options.authorize,
    timeoutMs: options.toolTimeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS,
    ...(options.maxOutputChars !== undefined ? { maxOutputChars: options.maxOutputChars } : {}),
    ...(options.transformOutput ? { transformOutput: options.transformOutput } : {}),
    onProgress: (call, progress) => out.push({ type: "tool_progress", callId: call.id, name: call.name, progress }),
    acquireSlot: async (signal) => {
      const releaseTurn = await turnSlots.acquire(signal);
      if (!shared) return releaseTurn;
      try {
        const releaseShared = await shared.acquire(signal);
        return () => {
          releaseShared();
          releaseTurn();
        };
      } catch (err) {
        releaseTurn();
        throw err;
      }
    },
  };
  const maxCalls = options.maxCallsPerReply ?? DEFAULT_MAX_CALLS_PER_REPLY;
  const toolSchemas = options.tools.map((t) => ({
    name: t.name,
    description: t.description,
    parameters: t.parameters,
  }));
  // Tokens tools spent on their own model calls (a delegated task, an extension's inference): part of this turn's budget.
  let toolUsage = emptyUsage();
  const overBudget = () =>
    options.maxTokensPerTurn !== undefined && totalTokens(usage) + totalTokens(toolUsage) > options.maxTokensPerTurn;

  for (let iteration = 0; ; iteration++) {
    if (signal.aborted) return finish("aborted");
    if (iteration >= options.maxIterations) return finish("max_iterations");

    const request: ModelRequest = {
      model: options.model,
      messages: [...options.history, ...produced],
      ...(options.head ? { head: options.head } : {}),
      ...(options.system !== undefined ? { system: options.system } : {}),
      ...(toolSchemas.length > 0 ? { tools: toolSchemas } : {}),
      ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
      ...(options.thinking !== undefined ? { thinking: options.thinking } : {}),
    };
    const response = await callModel(options.stream, request, signal, out);
    usage = addUsage(usage, response.usage);
    if (response.model) model = response.model;

    if (response.kind === "error") {
      if (response.aborted || signal.aborted) {
        // Keep what the user already saw; drop half-streamed tool calls, which have no results.
        if (response.partial.content.length > 0) {
          const { toolCalls: _dropped, ...partial } = response.partial;
          emitMessage({ ...partial, stopReason: "aborted" });
          text = partial.content;
        }
        return finish("aborted");
      }
      return finish("error", { code: response.status ?? BAD_GATEWAY, message: response.message });
    }

    const maxArgs = options.maxArgumentChars ?? DEFAULT_MAX_ARGUMENT_CHARS;
    const { message, oversized } = capArguments(response.message, maxArgs);
    out.push({ type: "model_end", model, usage: response.usage, message });
    emitMessage(message);
    text = message.content;

    const calls = message.toolCalls ?? [];
    if (calls.length === 0) return finish(response.stopReason === "tool_calls" ? "stop" : response.stopReason);

    out.push({ type: "tool_start", calls });
    if (overBudget()) {
      // The calls were announced in the assistant message, so each still needs a result.
      for (const call of calls)
        out.push({
          type: "tool_result",
          callId: call.id,
          name: call.name,
          output: BUDGET_OUTPUT,
          isError: true,
          durationMs: 0,
        });
      for (const call of calls) emitMessage(toolResult(call, BUDGET_OUTPUT, true));
      out.push({ type: "tools_complete" });
      return finish("token_budget");
    }

    const results = await runTools(calls, dispatch, signal, out, maxCalls, oversized, maxArgs);
    for (const [i, call] of calls.entries()) {
      const r = results[i]!;
      emitMessage(toolResult(call, r.output, r.isError));
      const spent = spentUsage(r.details);
      if (spent) toolUsage = addUsage(toolUsage, spent);
    }
    out.push({ type: "tools_complete" });
    if (signal.aborted) return finish("aborted");
    if (overBudget()) return finish("token_budget");
  }
}

const BUDGET_OUTPUT = "not run: this turn used up its token budget (max_tokens_per_turn)";

/** The usage a tool reports in `details.spentUsage` (tokens it spent on model calls of its own), if any. */
function spentUsage(details: Record<string, unknown> | undefined): Usage | undefined {
  const u = details?.spentUsage as Partial<Usage> | undefined;
  if (!u || typeof u.promptTokens !== "number" || typeof u.completionTokens !== "number") return undefined;
  return { ...emptyUsage(), ...u } as Usage;
}

/** 1 MiB: far above any real edit, far below the 16 MiB frame every event must fit in. */
export const DEFAULT_MAX_ARGUMENT_CHARS = 1024 * 1024;

/**
 * Replaces the arguments of calls longer than `max` with a short note, so
 * neither the events, the history nor the next request carry them; returns
 * the original lengths of the calls it shortened.
 */
function capArguments(
  message: AssistantMessage,
  max: number,
): { message: AssistantMessage; oversized: Map<string, number> } {
  const oversized = new Map<string, number>();
  const calls = message.toolCalls;
  if (!calls?.some((c) => c.rawArguments.length > max)) return { message, oversized };
  const toolCalls = calls.map((c) => {
    if (c.rawArguments.length <= max) return c;
    oversized.set(c.id, c.rawArguments.length);
    const note = { dropped: `arguments of ${c.rawArguments.length} characters, over the ${max}-character limit` };
    return { ...c, rawArguments: JSON.stringify(note), arguments: note };
  });
  return { message: { ...message, toolCalls }, oversized };
}

type ModelResponse =
  | {
      kind: "done";
      message: AssistantMessage;
      usage: Usage;
      model?: string;
      stopReason: "stop" | "length" | "tool_calls" | "refusal";
    }
  | {
      kind: "error";
      aborted: boolean;
      status?: number;
      message: string;
      partial: AssistantMessage;
      usage: Usage;
      model?: string;
    };

/** Streams one model call, forwarding deltas; reduces it to its terminal event. */
async function callModel(
  stream: StreamFn,
  request: ModelRequest,
  signal: AbortSignal,
  out: EventStream<LoopEvent, LoopEnd>,
): Promise<ModelResponse> {
  let startedModel: string | undefined;
  let lastUsage = emptyUsage();
  // The provider's own text so far when it shares it (every built-in one does); a copy here only for one that does not.
  let textSoFar: (() => string) | undefined;
  const ownText = new TextBuilder();
  let partialChars = 0;
  const partial = (): AssistantMessage => ({
    role: "assistant",
    content: textSoFar ? textSoFar() : ownText.toString(),
    ...(startedModel ? { model: startedModel } : {}),
  });
  const aborted = abortableNext<ProviderEvent>(signal);
  let iterator: AsyncIterator<ProviderEvent> | undefined;
  try {
    const source = stream(request, signal);
    iterator = source[Symbol.asyncIterator]();
    // Built-in providers stream through an EventStream: events already waiting are taken without the race's promises.
    const direct = source instanceof EventStream ? (source as EventStream<ProviderEvent>) : undefined;
    for (;;) {
      let ev = direct && !signal.aborted ? direct.takeNow() : undefined;
      if (ev === undefined) {
        // Raced against the signal so a provider that ignores it cannot hold a cancelled turn open.
        const next = await aborted.next(iterator);
        if (next === ABORTED)
          return {
            kind: "error",
            aborted: true,
            message: "aborted",
            partial: partial(),
            usage: lastUsage,
            model: startedModel,
          };
        if (next.done) break;
        ev = next.value;
      }
      switch (ev.type) {
        case "start":
          startedModel = ev.model;
          textSoFar = ev.textSoFar;
          break;
        case "text_delta":
          partialChars += ev.text.length;
          if (!textSoFar) ownText.append(ev.text);
          out.push({ type: "text_delta", text: ev.text });
          // Deltas wait in the provider's stream (and then its socket) while the turn catches up, not here.
          await out.room();
          break;
        case "thinking_delta":
          out.push({ type: "thinking_delta", text: ev.text });
          await out.room();
          break;
        case "usage":
          lastUsage = ev.usage;
          break;
        case "done":
          return {
            kind: "done",
            message: ev.message,
            usage: ev.usage,
            model: ev.message.model ?? startedModel,
            stopReason: ev.stopReason,
          };
        case "error":
          return {
            kind: "error",
            aborted: ev.stopReason === "aborted",
            ...(ev.error.status !== undefined ? { status: ev.error.status } : {}),
            message: ev.error.message,
            partial:
              ev.message.content.length >= partialChars ? ev.message : { ...ev.message, content: partial().content },
            usage: ev.usage,
            model: ev.message.model ?? startedModel,
          };
        default:
          break;
      }
    }
  } catch (err) {
    // The provider contract says streams never throw; treat a throw like an error event.
    return {
      kind: "error",
      aborted: signal.aborted,
      message: errorMessage(err),
      partial: partial(),
      usage: lastUsage,
      model: startedModel,
    };
  } finally {
    aborted.dispose();
    // Let the provider release its request; do not wait for a provider that ignores the signal.
    void Promise.resolve(iterator?.return?.()).catch(() => undefined);
  }
  return {
    kind: "error",
    aborted: false,
    message: "provider stream ended without a result",
    partial: partial(),
    usage: lastUsage,
    model: startedModel,
  };
}

const ABORTED = Symbol("aborted");

/**
 * Each `next()` of the provider's iterator, or ABORTED as soon as the signal
 * aborts, leaving nothing behind per call. (Promise.race against one
 * long-lived abort promise added a reaction to it per call, and each
 * reaction pinned that call's result, so every delta of a model call stayed
 * in memory until the call ended: ~1 KB per delta, 130 MB for a 16 MB
 * answer.) dispose() removes the listener.
 */
function abortableNext<T>(signal: AbortSignal): {
  next(it: AsyncIterator<T>): Promise<IteratorResult<T> | typeof ABORTED>;
  dispose(): void;
} {
  let wake: ((v: typeof ABORTED) => void) | null = null;
  const onAbort = () => wake?.(ABORTED);
  signal.addEventListener("abort", onAbort, { once: true });
  return {
    next(it) {
      if (signal.aborted) return Promise.resolve(ABORTED);
      return new Promise((resolve, reject) => {
        wake = resolve;
        it.next().then(resolve, reject);
      });
    },
    dispose() {
      wake = null;
      signal.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * Runs all calls at once. Emits `tool_result` as each finishes; returns the
 * results in call order. durationMs spans the whole call, approval wait included. A call still running when the turn is cancelled
 * resolves "cancelled" at once (dispatch guarantees that).
 */
async function runTools(
  calls: ToolCall[],
  ctx: DispatchContext,
  signal: AbortSignal,
  out: EventStream<LoopEvent, LoopEnd>,
  maxCalls: number,
  oversized: ReadonlyMap<string, number>,
  maxArgs: number,
): Promise<CallResult[]> {
  const overCap = (): CallResult => ({
    output: `not run: this reply asked for ${calls.length} tool calls and at most ${maxCalls} run per reply; make the remaining calls in your next reply, or batch the work into fewer calls (one bash command can do many things)`,
    isError: true,
  });
  return Promise.all(
    calls.map(async (call, i) => {
      const started = performance.now();
      const tooLong = oversized.get(call.id);
      const result =
        tooLong !== undefined
          ? {
              output: `not run: the arguments of ${call.name} were ${tooLong} characters, over the limit of ${maxArgs}; split the content across several smaller calls`,
              isError: true,
            }
          : i < maxCalls
            ? await runCall(call, ctx, signal)
            : overCap();
      const durationMs = Math.round(performance.now() - started);
      out.push({
        type: "tool_result",
        callId: call.id,
        name: call.name,
        output: result.output,
        isError: result.isError,
        durationMs,
        ...(result.details ? { details: result.details } : {}),
      });
      return result;
    }),
  );
}

function toolResult(call: ToolCall, content: string, isError: boolean): ToolResultMessage {
  return { role: "tool", toolCallId: call.id, name: call.name, content, isError, timestamp: Date.now() };
}
