/**
 * What a config builds for the runtime, swapped whole by
 * `runtime.reconfigure`: agents, model routing, permissions, limits. A turn
 * takes one snapshot when it starts and keeps it to its end (a reload never
 * changes a turn halfway), except permissions and the approval timeout,
 * which are read at each call so a tightened rule applies at once.
 */
import type { PermissionEngine } from "../agent/permissions.ts";
import type { StreamFn } from "../provider/types.ts";

/** An agent as the runtime needs it, resolved from config. */
export interface AgentSpec {
  name: string;
  model: string;
  system?: string;
  description?: string;
  /** Grants as written: names, patterns ("fs__*"), sources ("search/*"), "*". */
  grants: readonly string[];
  /** Where its tools run. */
  cwd: string;
  maxIterations: number;
  thinking: boolean;
  maxTokensPerTurn?: number;
  /** Agents it may delegate to ("*" = every agent); none when omitted. */
  members?: readonly string[];
}

export interface ToolLimits {
  /** Calls one model reply may make; more get an error result asking to batch. */
  maxCallsPerReply: number;
  /** Calls of one turn running at once. */
  maxConcurrentPerTurn: number;
  /** Calls running at once across the daemon. */
  maxConcurrent: number;
  /** Characters of one result the model sees (head and tail kept). */
  maxOutputChars: number;
  /** Characters of one call's arguments; a longer call is refused with a result the model can act on. */
  maxArgumentChars: number;
}

export interface RuntimeSettings {
  agents: ReadonlyMap<string, AgentSpec>;
  /** The stream for a model; throws SessionError("bad_request") naming the configured models when none serves it. */
  streamFor(model: string): StreamFn;
  contextWindow(model: string): number;
  permissions: PermissionEngine;
  approvalTimeoutMs: number;
  /** Share of the context window that triggers compaction after a turn. */
  compactThreshold: number;
  dailyTokens?: number;
  tools: ToolLimits;
  /** Delegation limits: chain depth, tasks at once per delegating turn. */
  delegation: { maxDepth: number; maxParallel: number };
  /** Scrubs configured secrets from text the model, the trace or a client would see. */
  redact(text: string): string;
}

/**
 * Defaults that keep a 2-core VPS alive: 32 calls a reply, 8 at once per
 * turn, 16 across the daemon (a bash build can take a core each).
 */
export const DEFAULT_TOOL_LIMITS: ToolLimits = {
  maxCallsPerReply: 32,
  maxConcurrentPerTurn: 8,
  maxConcurrent: 16,
  maxOutputChars: 30 * 1024,
  /** 1 MiB: far above any real edit, far below the 16 MiB frame every event must fit in. */
  maxArgumentChars: 1024 * 1024,
};
