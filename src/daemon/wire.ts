/**
 * The daemon's edge: session-layer shapes to wire shapes, in one place.
 * A session event becomes a StreamEvent (its kind is the StreamEvent case),
 * messages become HistoryMessages, summaries SessionInfo.
 *
 * Every reply must fit one 16 MiB frame: history replies cut fields longer
 * than HISTORY_FIELD_MAX with a note and, when a session is still too big,
 * leave out its oldest messages, saying how many, so a session with one
 * enormous message stays readable (it answered 413 for ever before).
 */
import type { Init } from "../protocol/codec.ts";
import type { AgentEvent, HistoryMessage, SessionInfo, StreamEvent } from "../protocol/gen/crabtalk.ts";
import type { Message } from "../provider/types.ts";
import type { SessionEvent } from "../session/events.ts";
import type { SessionSummary } from "../store/types.ts";

/** 256 KiB of one field: whole files and long answers fit; a runaway argument is cut. */
export const HISTORY_FIELD_MAX = 256 * 1024;
/** Room left in a 16 MiB frame for the history reply's own framing. */
const HISTORY_REPLY_MAX = 15 * 1024 * 1024;

export function streamEvent(e: SessionEvent): Init<StreamEvent> {
  return { [e.body.kind]: e.body.data, seq: e.seq, session: e.session, timestampMs: e.ts } as Init<StreamEvent>;
}

/** AgentEvent.kind is the proto case name ("tool_start"), not the TS field name ("toolStart"). */
function caseName(kind: string): string {
  return kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function agentEvent(e: SessionEvent): Init<AgentEvent> {
  return {
    agent: e.agent,
    session: e.session,
    kind: caseName(e.body.kind),
    payload: streamEvent(e),
    timestampMs: e.ts,
  };
}

function cut(text: string): string {
  if (text.length <= HISTORY_FIELD_MAX) return text;
  return `${text.slice(0, HISTORY_FIELD_MAX)}\n[... ${text.length - HISTORY_FIELD_MAX} more characters not shown; the full text is in the session file]`;
}

export function historyMessage(m: Message): Init<HistoryMessage> {
  switch (m.role) {
    case "user":
      return { role: "user", content: cut(m.content), timestampMs: m.timestamp ?? 0 };
    case "assistant":
      return {
        role: "assistant",
        content: cut(m.content),
        toolCalls: (m.toolCalls ?? []).map((c) => ({ id: c.id, name: c.name, arguments: cut(c.rawArguments) })),
        thinking: cut(
          (m.thinking ?? []).map((b) => (b.type === "thinking" ? b.text : "[redacted thinking]")).join("\n"),
        ),
        timestampMs: m.timestamp ?? 0,
      };
    case "tool":
      return {
        role: "tool",
        content: cut(m.content),
        toolCallId: m.toolCallId,
        isError: m.isError,
        timestampMs: m.timestamp ?? 0,
      };
  }
}

function size(m: Init<HistoryMessage>): number {
  let n = 64 + (m.content?.length ?? 0) + (m.thinking?.length ?? 0);
  for (const c of m.toolCalls ?? []) n += 32 + (c.arguments?.length ?? 0) + (c.name?.length ?? 0);
  return n;
}

/** The newest messages that fit one reply; a note first when older ones were left out. */
export function historyMessages(messages: readonly Message[]): Init<HistoryMessage>[] {
  const out: Init<HistoryMessage>[] = [];
  let total = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = historyMessage(messages[i]!);
    total += size(m);
    if (total > HISTORY_REPLY_MAX) {
      out.push({
        role: "user",
        content: `[${i + 1} older message(s) not shown: the history is larger than one reply; read the session file or use \`crabtalk replay\`]`,
      });
      break;
    }
    out.push(m);
  }
  return out.reverse();
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
