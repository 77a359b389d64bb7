/**
 * Running one tool call, from the model's raw request to a result the model
 * can read. Every failure along the way (unknown tool, tool not granted,
 * arguments that are not a JSON object or do not fit the schema, a refused
 * approval, a throw, a timeout, a cancel) becomes an error result; nothing
 * here throws, so one call can never break its siblings or the turn.
 *
 * Order of checks: existence and grant first (a refused tool never reaches
 * the approval prompt), then the arguments (a human is never asked to
 * approve a call that could not run), then `authorize`, then execute under
 * a per-call timeout and the turn's abort signal.
 */
import type { ToolCall } from "../provider/types.ts";
import { errorMessage } from "../util/abort.ts";
import { formatErrors, validate } from "./schema.ts";
import type { Authorization, Tool, ToolOutput } from "./types.ts";

/**
 * Default per-call limit. Above bash's own cap (10 minutes) so the tool's
 * timeout, which kills its process group and keeps the output, fires first;
 * this one is the backstop for tools that ignore their signal.
 */
export const DEFAULT_TOOL_TIMEOUT_MS = 15 * 60_000;

export const CANCELLED_OUTPUT = "cancelled";

export interface DispatchContext {
  agent: string;
  session: number;
  /** The granted tools, by name. */
  tools: ReadonlyMap<string, Tool>;
  /** Every tool name that exists, granted or not. */
  knownTools: ReadonlySet<string>;
  authorize(call: ToolCall, signal: AbortSignal): Promise<Authorization>;
  timeoutMs: number;
  /** Scrubs configured secrets from every result (util/redact.ts); applied here so no tool can skip it. */
  redact?: (text: string) => string;
}

export type Prepared = { ok: true; tool: Tool; args: Record<string, unknown> } | { ok: false; output: string };

/** Checks a call up to (not including) authorization: the tool exists, is granted, and the arguments fit. */
export function prepareCall(call: ToolCall, ctx: DispatchContext): Prepared {
  const tool = ctx.tools.get(call.name);
  if (!tool) {
    if (ctx.knownTools.has(call.name))
      return { ok: false, output: `tool ${call.name} is not granted to agent ${ctx.agent}` };
    const available = [...ctx.tools.keys()].join(", ") || "none";
    return { ok: false, output: `unknown tool ${call.name}; available tools: ${available}` };
  }

  const args = parseArguments(call);
  if (typeof args === "string") return { ok: false, output: args };

  const errors = validate(tool.parameters, args);
  if (errors.length > 0) {
    return {
      ok: false,
      output: `invalid arguments for ${tool.name}:\n${formatErrors(errors)}\nFix the arguments and call ${tool.name} again.`,
    };
  }
  return { ok: true, tool, args };
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
export async function runCall(
  call: ToolCall,
  ctx: DispatchContext,
  signal: AbortSignal,
): Promise<Required<ToolOutput>> {
  const result = await runUnredacted(call, ctx, signal);
  return ctx.redact ? { output: ctx.redact(result.output), isError: result.isError } : result;
}

async function runUnredacted(call: ToolCall, ctx: DispatchContext, signal: AbortSignal): Promise<Required<ToolOutput>> {
  if (signal.aborted) return { output: CANCELLED_OUTPUT, isError: true };
  const prepared = prepareCall(call, ctx);
  if (!prepared.ok) return { output: prepared.output, isError: true };

  const callController = new AbortController();
  const onAbort = () => callController.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<Required<ToolOutput>>((resolve) => {
      callController.signal.addEventListener("abort", () => resolve({ output: CANCELLED_OUTPUT, isError: true }), {
        once: true,
      });
      void authorizeAndExecute(prepared.tool, prepared.args, call, ctx, callController.signal, (ms) => {
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
  tool: Tool,
  args: Record<string, unknown>,
  call: ToolCall,
  ctx: DispatchContext,
  signal: AbortSignal,
  startTimer: (ms: number) => void,
): Promise<Required<ToolOutput>> {
  let auth: Authorization;
  try {
    auth = await ctx.authorize(call, signal);
  } catch (err) {
    return { output: `${tool.name} was not run: approval failed (${errorMessage(err)})`, isError: true };
  }
  if (!auth.allowed) return { output: `${tool.name} was not run: ${auth.reason}`, isError: true };
  if (signal.aborted) return { output: CANCELLED_OUTPUT, isError: true };

  // The timeout covers execution only: waiting for a human is bounded by the approval layer.
  startTimer(ctx.timeoutMs);
  try {
    const result = await tool.execute(args, { agent: ctx.agent, session: ctx.session, callId: call.id, signal });
    return {
      output: typeof result.output === "string" ? result.output : String(result.output),
      isError: result.isError === true,
    };
  } catch (err) {
    return { output: `${tool.name} failed: ${errorMessage(err)}`, isError: true };
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
