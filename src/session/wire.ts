/**
 * The one place where runtime shapes become wire shapes: loop events to
 * StreamEvents, messages to HistoryMessages, store summaries to SessionInfo.
 */
import type { Init } from "../protocol/codec.ts";
import type {
  HistoryMessage,
  SessionInfo,
  StreamEvent,
  ToolCallInfo,
  Usage as WireUsage,
} from "../protocol/gen/crabtalk.ts";
import type { LoopEvent } from "../agent/types.ts";
import type { Message, ToolCall, Usage } from "../provider/types.ts";
import type { SessionSummary } from "../store/types.ts";

export function wireUsage(u: Usage): WireUsage {
  return {
    promptTokens: u.promptTokens,
    completionTokens: u.completionTokens,
    cacheReadTokens: u.cacheReadTokens,
    cacheWriteTokens: u.cacheWriteTokens,
    reasoningTokens: u.reasoningTokens,
  };
}

export function toolCallInfo(call: ToolCall): ToolCallInfo {
  return { id: call.id, name: call.name, arguments: call.rawArguments };
}

/** The StreamEvent for a loop event, or null for events that stay internal (history messages). */
export function loopEventToWire(agent: string, e: LoopEvent): Init<StreamEvent> | null {
  switch (e.type) {
    case "text_delta":
      return { chunk: { content: e.text } };
    case "thinking_delta":
      return { thinking: { content: e.text } };
    case "tool_start":
      return { toolStart: { calls: e.calls.map(toolCallInfo) } };
    case "tool_result":
      return {
        toolResult: {
          callId: e.callId,
          output: e.output,
          durationMs: Math.round(e.durationMs),
          isError: e.isError,
          name: e.name,
        },
      };
    case "tools_complete":
      return { toolsComplete: {} };
    case "end":
      return {
        end: {
          agent,
          model: e.model,
          usage: wireUsage(e.usage),
          stopReason: e.stopReason,
          error: e.error?.message ?? "",
          errorCode: e.error?.code ?? 0,
        },
      };
    case "model_end":
      return { modelEnd: { model: e.model, usage: wireUsage(e.usage), stopReason: e.message.stopReason ?? "" } };
    case "message":
      return null;
  }
}

/** The set case of a StreamEvent init. */
export function eventKind(event: Init<StreamEvent>): NonNullable<StreamEvent["event"]> {
  for (const key of [
    "start",
    "chunk",
    "thinking",
    "toolStart",
    "toolResult",
    "toolsComplete",
    "end",
    "approval",
    "compaction",
    "error",
    "modelEnd",
  ] as const) {
    if (event[key] !== undefined) return key;
  }
  throw new Error("stream event with no case set");
}

export function historyMessage(m: Message): Init<HistoryMessage> {
  switch (m.role) {
    case "user":
      return { role: "user", content: m.content, timestampMs: m.timestamp ?? 0 };
    case "assistant":
      return {
        role: "assistant",
        content: m.content,
        toolCalls: (m.toolCalls ?? []).map(toolCallInfo),
        thinking: (m.thinking ?? []).map((b) => (b.type === "thinking" ? b.text : "[redacted thinking]")).join("\n"),
        timestampMs: m.timestamp ?? 0,
      };
    case "tool":
      return {
        role: "tool",
        content: m.content,
        toolCallId: m.toolCallId,
        isError: m.isError,
        timestampMs: m.timestamp ?? 0,
      };
  }
}

export function sessionInfo(
  s: SessionSummary,
  live: { live: boolean; running: boolean },
  now = Date.now(),
): Init<SessionInfo> {
  return {
    id: s.id,
    agent: s.agent,
    createdBy: s.createdBy,
    messageCount: s.messageCount,
    aliveSecs: Math.max(0, Math.floor((now - s.createdAt) / 1000)),
    title: s.title,
    lastActiveMs: s.lastActive,
    totalTokens: s.totalTokens,
    live: live.live,
    running: live.running,
  };
}
