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
}

export interface ToolOutput {
  output: string;
  isError?: boolean;
}

export interface Tool {
  name: string;
  description: string;
  /** JSON Schema of the arguments object; arguments are checked against it before execute. */
  parameters: Record<string, unknown>;
  /** May throw: a throw becomes an error result the model can read. */
  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolOutput>;
}

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
  | { type: "tool_result"; callId: string; name: string; output: string; isError: boolean; durationMs: number }
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
    };
