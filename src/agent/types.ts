/**
 * The tool interface and the agent-loop event model. Built-in tools now and
 * MCP and extension tools later all implement `Tool`; the loop knows nothing
 * else about where a tool runs.
 */
import type {
  AssistantMessage,
  Message,
  StopReason as ProviderStopReason,
  ToolCall,
  Usage,
} from "../provider/types.ts";

export interface ToolContext {
  agent: string;
  session: number;
  callId: string;
  /** Aborted on cancel or timeout: stop work and kill child processes. */
  signal: AbortSignal;
  /** Progress for watchers (a line of build output, "3 of 10 pages"); each call becomes a tool_progress event. */
  onUpdate?(progress: string): void;
}

/**
 * What a tool may return besides text: blocks the model reads as text
 * (images and binary resources are summarized as type and size, since the
 * loop speaks text to every provider) and structured data shown as JSON.
 */
export type ContentBlock =
  | { type: "text"; text: string }
  | { type: "json"; value: unknown }
  | { type: "image"; mimeType: string; bytes: number }
  | { type: "resource"; uri: string; mimeType?: string; bytes?: number };

export interface ToolOutput {
  output: string;
  isError?: boolean;
  /** Extra blocks, rendered after `output` into the text the model reads. */
  content?: ContentBlock[];
  /** Anything worth keeping for the trace (exit code, pids, timings); never shown to the model. */
  details?: Record<string, unknown>;
}

/** Where a tool comes from: its registry source. Grants may name a source as `"<source>/*"`. */
export interface ToolSource {
  kind: "builtin" | "mcp" | "extension" | "delegation" | "memory" | "skills" | "test";
  name: string;
}

export interface Tool {
  name: string;
  description: string;
  /** JSON Schema of the arguments object; arguments are checked against it before execute. */
  parameters: Record<string, unknown>;
  /** May throw: a throw becomes an error result the model can read. */
  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolOutput>;
}

/** What a call to a tool name finds: the tool, a known tool that is out of service, or nothing. */
export type ToolLookup =
  | { found: "tool"; entry: { tool: Tool; source: ToolSource } }
  | { found: "unavailable"; source: ToolSource; reason: string }
  | { found: "none" };

export type Permission = "allow" | "ask" | "deny";

/** The loop's answer to "may this call run?", decided by the session layer. */
export type Authorization = { allowed: true } | { allowed: false; reason: string };

/** Why a turn stopped: the provider's reasons plus the loop's own. */
export type TurnStopReason = ProviderStopReason | "max_iterations" | "token_budget";

/** Events of one turn, in order. Turned into wire frames in exactly one place (session/wire.ts). */
export type LoopEvent =
  | { type: "text_delta"; text: string }
  | { type: "thinking_delta"; text: string }
  | { type: "tool_start"; calls: ToolCall[] }
  | {
      type: "tool_result";
      callId: string;
      name: string;
      output: string;
      isError: boolean;
      durationMs: number;
      /** The tool's details for the trace (never shown to the model). */
      details?: Record<string, unknown>;
    }
  | { type: "tool_progress"; callId: string; name: string; progress: string }
  | { type: "tools_complete" }
  /** A model call finished; `usage` is that call's usage. */
  | { type: "model_end"; model: string; usage: Usage; message: AssistantMessage }
  /** A message to append to the session history (assistant or tool result), as soon as it is complete. */
  | { type: "message"; message: Message }
  | {
      type: "end";
      stopReason: TurnStopReason;
      usage: Usage;
      model: string;
      text: string;
      error?: { code: number; message: string };
      /** Tokens tools spent on model calls of their own during the turn (delegated tasks), when any. */
      toolUsage?: Usage;
    };
