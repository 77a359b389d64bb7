/**
 * A scripted StreamFn for driving the agent loop in tests: each model call
 * plays the next step of the script and the requests are recorded, so tests
 * can assert what reached the model. No HTTP, no mocked internals.
 */
import {
  emptyUsage,
  type AssistantMessage,
  type ModelRequest,
  type ProviderEvent,
  type StreamFn,
  type ToolCall,
  type Usage,
} from "../../src/provider/types.ts";
import type { Tool, ToolContext, ToolOutput } from "../../src/agent/types.ts";

export type Step = (request: ModelRequest, signal: AbortSignal | undefined) => AsyncIterable<ProviderEvent>;

export interface Scripted {
  stream: StreamFn;
  requests: ModelRequest[];
}

export function scripted(steps: Step[]): Scripted {
  const requests: ModelRequest[] = [];
  const stream: StreamFn = (request, signal) => {
    // Copy: the loop may build later requests from the same arrays.
    requests.push(structuredClone(request));
    const step = steps[requests.length - 1];
    if (!step) throw new Error(`script has no step ${requests.length}`);
    return step(request, signal);
  };
  return { stream, requests };
}

export function usage(prompt: number, completion: number): Usage {
  return { ...emptyUsage(), promptTokens: prompt, completionTokens: completion };
}

export function call(id: string, name: string, args: Record<string, unknown> | string): ToolCall {
  if (typeof args === "string") {
    let parsed: Record<string, unknown> | undefined;
    try {
      const v: unknown = JSON.parse(args);
      parsed = typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      parsed = undefined;
    }
    return { id, name, rawArguments: args, arguments: parsed };
  }
  return { id, name, rawArguments: JSON.stringify(args), arguments: args };
}

/** A complete response: optional text (streamed in two deltas), optional tool calls. */
export function reply(opts: { text?: string; calls?: ToolCall[]; usage?: Usage; model?: string }): Step {
  return async function* () {
    const model = opts.model ?? "test-model";
    yield { type: "start", model };
    const text = opts.text ?? "";
    if (text) {
      const half = Math.ceil(text.length / 2);
      yield { type: "text_delta", text: text.slice(0, half) };
      if (text.length > half) yield { type: "text_delta", text: text.slice(half) };
    }
    const calls = opts.calls ?? [];
    for (const [index, c] of calls.entries()) {
      yield { type: "toolcall_start", index, id: c.id, name: c.name };
      yield { type: "toolcall_end", index, call: c };
    }
    const message: AssistantMessage = {
      role: "assistant",
      content: text,
      model,
      ...(calls.length ? { toolCalls: calls } : {}),
      stopReason: calls.length ? "tool_calls" : "stop",
    };
    const u = opts.usage ?? usage(10, 5);
    yield { type: "done", stopReason: calls.length ? "tool_calls" : "stop", message, usage: u };
  };
}

/** A tool with an inline body and a permissive-by-default schema. */
export function tool(
  name: string,
  execute: (args: Record<string, unknown>, ctx: ToolContext) => Promise<ToolOutput>,
  parameters?: Record<string, unknown>,
): Tool {
  return { name, description: `test tool ${name}`, parameters: parameters ?? { type: "object" }, execute };
}

export const allowAll = async () => ({ allowed: true }) as const;

/** Resolves once `check` is true, polling; rejects after `ms`. */
export async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(5);
  }
}
