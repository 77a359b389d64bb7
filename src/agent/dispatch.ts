/**
 * Running one tool call, from the model's raw request to a result the model
 * can read. Every failure along the way (unknown tool, tool not granted,
 * arguments that are not a JSON object or do not fit the schema, a refused
 * approval, a throw, a timeout, a cancel) becomes an error result; nothing
 * here throws, so one call can never break its siblings or the turn.
 *
 * Order of checks: existence, availability and grant first (a refused tool
 * never reaches the approval prompt), then the arguments (a human is never
 * asked to approve a call that could not run), then `authorize`, then
 * execute under a per-call timeout and the turn's abort signal.
 *
 * Every result, whatever tool produced it, is rendered to text (content
 * blocks included) and capped here, once, keeping its head and tail.
 */
import type { ToolCall } from "../provider/types.ts";
import { errorMessage } from "../util/abort.ts";
import { formatErrors, validate } from "./schema.ts";
import type { Authorization, ContentBlock, Tool, ToolLookup, ToolOutput, ToolSource } from "./types.ts";

/**
 * Default per-call limit. Above bash's own cap (10 minutes) so the tool's
 * timeout, which kills its process group and keeps the output, fires first;
 * this one is the backstop for tools that ignore their signal.
 */
export const DEFAULT_TOOL_TIMEOUT_MS = 15 * 60_000;

export const CANCELLED_OUTPUT = "cancelled";

/**
 * 30 KB, about 7k tokens: enough for a failing test run's summary without
 * drowning the conversation; the head and the tail are kept, since the end
 * of a log says how it finished.
 */
export const DEFAULT_MAX_OUTPUT_CHARS = 30 * 1024;

export interface DispatchContext {
  agent: string;
  session: number;
  /** The tools offered to the model this turn (named in "unknown tool" answers). */
  offered: readonly Tool[];
  /** The registry as of the call: a tool withdrawn mid-turn answers "unavailable". */
  lookup(name: string): ToolLookup;
  /** Whether the agent's grants cover this tool. */
  granted(name: string, source: ToolSource): boolean;
  authorize(call: ToolCall, source: ToolSource, signal: AbortSignal): Promise<Authorization>;
  timeoutMs: number;
  /** Cap on the text of one result; default DEFAULT_MAX_OUTPUT_CHARS. */
  maxOutputChars?: number;
  /** Applied to every result's text before the model, the trace or any client sees it (secret redaction). */
  transformOutput?(text: string): string;
  /** Progress reported by a running tool. */
  onProgress?(call: ToolCall, progress: string): void;
  /**
   * Waits for an execution slot (per-turn and daemon-wide limits) and
   * returns its release; approval waits hold no slot. Rejects when `signal`
   * aborts first.
   */
  acquireSlot?(signal: AbortSignal): Promise<() => void>;
}

export type Prepared =
  | { ok: true; tool: Tool; source: ToolSource; args: Record<string, unknown> }
  | { ok: false; output: string };

/** Checks a call up to (not including) authorization: the tool exists, is available and granted, and the arguments fit. */
export function prepareCall(call: ToolCall, ctx: DispatchContext): Prepared {
  const found = ctx.lookup(call.name);
  if (found.found === "none") {
    const available = ctx.offered.map((t) => t.name).join(", ") || "none";
    return { ok: false, output: `unknown tool ${call.name}; available tools: ${available}` };
  }
  if (found.found === "unavailable") {
    if (!ctx.granted(call.name, found.source))
      return { ok: false, output: `tool ${call.name} is not granted to agent ${ctx.agent}` };
    return { ok: false, output: `tool ${call.name} is unavailable: ${found.reason}; try again later or do without it` };
  }
  const { tool, source } = found.entry;
  if (!ctx.granted(call.name, source))
    return { ok: false, output: `tool ${call.name} is not granted to agent ${ctx.agent}` };

  const args = parseArguments(call);
  if (typeof args === "string") return { ok: false, output: args };

  const errors = validate(tool.parameters, args);
  if (errors.length > 0) {
    return {
      ok: false,
      output: `invalid arguments for ${tool.name}:\n${formatErrors(errors)}\nFix the arguments and call ${tool.name} again.`,
    };
  }
  return { ok: true, tool, source, args };
}

/** The arguments object, or an error message when the model did not send one. */
function parseArguments(call: ToolCall): Record<string, unknown> | string {
  if (call.arguments) return call.arguments;
  const raw = call.rawArguments.trim();
  // Some models send nothing at all for a tool without parameters.
  if (raw === "") return {};
  let reason: string;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
    reason = `got ${Array.isArray(parsed) ? "an array" : typeof parsed === "object" ? "null" : `a ${typeof parsed}`}`;
  } catch (err) {
    reason = `not valid JSON (${errorMessage(err)})`;
  }
  const shown = raw.length > 200 ? `${raw.slice(0, 200)}…` : raw;
  return `arguments for ${call.name} must be a JSON object, ${reason}: ${shown}`;
}

/**
 * Runs one call to completion and returns its result, passed through
 * `ctx.redact`; never throws. Resolves "cancelled" as soon as `signal`
 * aborts, without waiting for the tool (the tool's own signal is aborted
 * too, so it can kill its children).
 */
export async function runCall(call: ToolCall, ctx: DispatchContext, signal: AbortSignal): Promise<CallResult> {
  const raw = await runCallRaw(call, ctx, signal);
  const text = capText(renderOutput(raw), ctx.maxOutputChars ?? DEFAULT_MAX_OUTPUT_CHARS);
  return {
    output: ctx.transformOutput ? ctx.transformOutput(text) : text,
    isError: raw.isError === true,
    ...(raw.details ? { details: raw.details } : {}),
  };
}

/** A finished call as the loop records it. */
export interface CallResult {
  output: string;
  isError: boolean;
  details?: Record<string, unknown>;
}

async function runCallRaw(call: ToolCall, ctx: DispatchContext, signal: AbortSignal): Promise<ToolOutput> {
  if (signal.aborted) return { output: CANCELLED_OUTPUT, isError: true };
  const prepared = prepareCall(call, ctx);
  if (!prepared.ok) return { output: prepared.output, isError: true };

  const callController = new AbortController();
  const onAbort = () => callController.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<ToolOutput>((resolve) => {
      callController.signal.addEventListener("abort", () => resolve({ output: CANCELLED_OUTPUT, isError: true }), {
        once: true,
      });
      void authorizeAndExecute(prepared, call, ctx, callController.signal, (ms) => {
        timer = setTimeout(() => {
          resolve({ output: `tool ${call.name} timed out after ${formatSeconds(ms)}`, isError: true });
          callController.abort(new DOMException("tool timed out", "TimeoutError"));
        }, ms);
      }).then(resolve);
    });
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    // Whatever finished first, the tool must stop now: abort is how it learns.
    if (!callController.signal.aborted) callController.abort(new DOMException("call settled", "AbortError"));
  }
}

async function authorizeAndExecute(
  prepared: Extract<Prepared, { ok: true }>,
  call: ToolCall,
  ctx: DispatchContext,
  signal: AbortSignal,
  startTimer: (ms: number) => void,
): Promise<ToolOutput> {
  const { tool, args } = prepared;
  let auth: Authorization;
  try {
    auth = await ctx.authorize(call, prepared.source, signal);
  } catch (err) {
    return { output: `${tool.name} was not run: approval failed (${errorMessage(err)})`, isError: true };
  }
  if (!auth.allowed) return { output: `${tool.name} was not run: ${auth.reason}`, isError: true };
  if (signal.aborted) return { output: CANCELLED_OUTPUT, isError: true };

  let release: (() => void) | undefined;
  try {
    release = await ctx.acquireSlot?.(signal);
  } catch {
    return { output: CANCELLED_OUTPUT, isError: true };
  }
  // The timeout covers execution only: waiting for a human is bounded by the approval layer, waiting for a slot by the turn.
  startTimer(ctx.timeoutMs);
  try {
    const onProgress = ctx.onProgress;
    const result = await tool.execute(args, {
      agent: ctx.agent,
      session: ctx.session,
      callId: call.id,
      signal,
      ...(onProgress ? { onUpdate: (progress: string) => !signal.aborted && onProgress(call, progress) } : {}),
    });
    return { ...result, output: typeof result.output === "string" ? result.output : String(result.output) };
  } catch (err) {
    return { output: `${tool.name} failed: ${errorMessage(err)}`, isError: true };
  } finally {
    release?.();
  }
}

/** The text the model reads: the output, then each content block. */
export function renderOutput(result: ToolOutput): string {
  if (!result.content || result.content.length === 0) return result.output;
  const parts = result.output ? [result.output] : [];
  for (const block of result.content) parts.push(renderBlock(block));
  return parts.join("\n");
}

function renderBlock(block: ContentBlock): string {
  switch (block.type) {
    case "text":
      return block.text;
    case "json":
      return JSON.stringify(block.value, null, 2) ?? "null";
    case "image":
      return `[image: ${block.mimeType}, ${block.bytes} bytes]`;
    case "resource":
      return `[resource: ${block.uri}${block.mimeType ? `, ${block.mimeType}` : ""}${block.bytes !== undefined ? `, ${block.bytes} bytes` : ""}]`;
  }
}

/** Keeps the head and the tail of a text longer than `max` characters, saying how much was cut. */
export function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, Math.ceil(max / 2));
  const tail = text.slice(text.length - Math.floor(max / 2));
  const cut = text.length - head.length - tail.length;
  return `${head}\n[... ${cut} characters cut from the middle of ${text.length}; redirect the output to a file and read or grep it to see everything ...]\n${tail}`;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
