/**
 * Loop events to session event bodies, and provider shapes to the plain
 * data the session layer publishes (the daemon maps these to wire messages
 * at its edge).
 */
import type { LoopEvent } from "../agent/types.ts";
import type { ToolCall, Usage } from "../provider/types.ts";
import { body, type EventBody, type ToolCallData, type UsageData } from "./events.ts";

export function usageData(u: Usage): UsageData {
  return {
    promptTokens: u.promptTokens,
    completionTokens: u.completionTokens,
    cacheReadTokens: u.cacheReadTokens,
    cacheWriteTokens: u.cacheWriteTokens,
    reasoningTokens: u.reasoningTokens,
  };
}

export function toolCallData(call: ToolCall): ToolCallData {
  return { id: call.id, name: call.name, arguments: call.rawArguments };
}

/** The event body for a loop event, or null for events that stay internal (history messages). */
export function loopEventToBody(agent: string, e: LoopEvent): EventBody | null {
  switch (e.type) {
    case "text_delta":
      return body("chunk", { content: e.text });
    case "thinking_delta":
      return body("thinking", { content: e.text });
    case "tool_start":
      return body("toolStart", { calls: e.calls.map(toolCallData) });
    case "tool_result":
      return body("toolResult", {
        callId: e.callId,
        output: e.output,
        durationMs: Math.round(e.durationMs),
        isError: e.isError,
        name: e.name,
        ...(e.details ? { details: JSON.stringify(e.details) } : {}),
      });
    case "tool_progress":
      return body("toolProgress", { callId: e.callId, name: e.name, progress: e.progress });
    case "tools_complete":
      return body("toolsComplete", {});
    case "end":
      return body("end", {
        agent,
        model: e.model,
        usage: usageData(e.usage),
        stopReason: e.stopReason,
        error: e.error?.message ?? "",
        errorCode: e.error?.code ?? 0,
        ...(e.toolUsage ? { tasksUsage: usageData(e.toolUsage) } : {}),
      });
    case "model_end":
      return body("modelEnd", { model: e.model, usage: usageData(e.usage), stopReason: e.message.stopReason ?? "" });
    case "message":
      return null;
  }
}
