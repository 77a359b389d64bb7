/**
 * The session layer's own events: what a turn, a compaction or a hook
 * produced, numbered per session. Each kind's payload is plain data in the
 * shape it is traced on disk (`{type: kind, data}`), and the daemon maps a
 * `SessionEvent` to a wire `StreamEvent` at its edge (the kind names are
 * the StreamEvent cases), so the engine never speaks protocol types.
 */

export interface ToolCallData {
  id: string;
  name: string;
  arguments: string;
}

export interface UsageData {
  promptTokens: number;
  completionTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
}

export interface EventPayloads {
  start: { agent: string; session: number; sender: string };
  chunk: { content: string };
  thinking: { content: string };
  toolStart: { calls: ToolCallData[] };
  toolResult: {
    callId: string;
    output: string;
    durationMs: number;
    isError: boolean;
    name: string;
    /** The tool's details for the trace, as JSON; empty when none. */
    details?: string;
  };
  toolProgress: { callId: string; name: string; progress: string };
  toolsComplete: Record<string, never>;
  end: {
    agent: string;
    model: string;
    usage: UsageData;
    stopReason: string;
    error: string;
    errorCode: number;
    /** What the turn's delegated tasks (and other tools' own model calls) spent, beside `usage`. */
    tasksUsage?: UsageData;
  };
  approval: {
    callId: string;
    tool: string;
    arguments: string;
    timeoutMs: number;
    /** The session whose turn made the call, when it is announced on another session (a parent's). */
    session?: number;
    agent?: string;
  };
  compaction: { tokensBefore: number; tokensAfter: number; summary: string };
  error: { code: number; message: string };
  modelEnd: { model: string; usage: UsageData; stopReason: string };
  /** Messages a hook added to this turn's model requests only (never to history): recorded so nothing is hidden. */
  injected: { source: string; messages: { role: string; content: string }[] };
  /** Something around the turn went wrong without failing it (a hook that threw or timed out). */
  notice: { source: string; level: "info" | "warn" | "error"; message: string };
  /** Daemon-wide (session 0): the config was reloaded. */
  reloaded: { changes: string[]; needsRestart: string[]; trigger: string };
  /** Daemon-wide (session 0): an event published on the event bus (src/events/bus.ts). */
  busEvent: { id: string; source: string; payload: string; hops: number; chain: string[]; seq: number };
}

export type EventKind = keyof EventPayloads;

/** One event's body: its kind and that kind's payload. */
export type EventBody = { [K in EventKind]: { kind: K; data: EventPayloads[K] } }[EventKind];

/** One numbered event of one session. */
export interface SessionEvent {
  agent: string;
  session: number;
  /** Per-session sequence number, strictly increasing, persisted with the trace. */
  seq: number;
  /** Which turn of the session (the seq of its start event), 0 for events outside turns. */
  turn: number;
  ts: number;
  body: EventBody;
}

/** Builds a body with its payload type checked against its kind. */
export function body<K extends EventKind>(kind: K, data: EventPayloads[K]): EventBody {
  return { kind, data } as EventBody;
}

/** Narrows an event to one kind. */
export function isKind<K extends EventKind>(
  e: SessionEvent,
  kind: K,
): e is SessionEvent & { body: { kind: K; data: EventPayloads[K] } } {
  return e.body.kind === kind;
}
