/**
 * The look of the live events console (`crabtalk events`): one line per
 * thing worth knowing, across every agent and session — a turn started
 * (and by whom), a tool called and how it ended with its duration, an
 * approval waiting, a compaction, the end of a turn with model, tokens and
 * a preview of the answer. Streamed text is not printed piece by piece; it
 * is gathered per session for that preview. Lines never exceed the width.
 */
import type { AgentEvent, ToolCallInfo } from "../../protocol/gen/crabtalk.ts";
import { describeStop, formatDurationMs, formatUsage, summarizeArguments } from "./format.ts";
import { visibleDeep } from "./sanitize.ts";
import { oneLine, truncate, type Style } from "./style.ts";

interface SessionState {
  startedAt: number;
  answer: string;
  tools: Map<string, ToolCallInfo>;
}

/** Sessions tracked at once; beyond this the oldest are forgotten (their previews and tool names only). */
const MAX_TRACKED = 1000;

export class EventLines {
  private readonly sessions = new Map<number, SessionState>();

  constructor(
    private readonly style: Style,
    private readonly width: () => number,
  ) {}

  /** The lines to print for one event (often none). */
  lines(raw: AgentEvent): string[] {
    // Model and tool text reach the terminal here: every control character made visible first.
    const e = visibleDeep(raw);
    const ev = e.payload;
    if (!ev) return [];
    const state = this.state(e.session);
    const ts = e.timestampMs || ev.timestampMs || Date.now();
    const { style } = this;
    const say = (mark: string, text: string): string[] => [this.line(ts, e.agent, e.session, mark, text)];
    switch (ev.event) {
      case "start":
        state.startedAt = ts;
        state.answer = "";
        state.tools.clear();
        return say(style.paint("cyan", "▶"), `turn started by ${ev.start!.sender || "?"}`);
      case "chunk":
        state.answer += ev.chunk!.content;
        return [];
      case "toolStart":
        state.answer = "";
        return ev.toolStart!.calls.flatMap((c) => {
          state.tools.set(c.id, c);
          return say(
            style.paint("blue", "⚙"),
            `${style.paint("bold", c.name)} ${summarizeArguments(c.name, c.arguments)}`,
          );
        });
      case "toolResult": {
        const r = ev.toolResult!;
        const call = state.tools.get(r.callId);
        state.tools.delete(r.callId);
        const mark = r.isError ? style.paint("red", "✗") : style.paint("green", "✓");
        const failure = r.isError ? ` ${oneLine(r.output)}` : "";
        return say(
          mark,
          `${style.paint("bold", r.name || call?.name || "tool")} ${formatDurationMs(r.durationMs)}${failure}`,
        );
      }
      case "approval": {
        const a = ev.approval!;
        return say(
          style.paint("yellow", "?"),
          `${style.paint("bold", a.tool)} ${summarizeArguments(a.tool, a.arguments)} waits for approval`,
        );
      }
      case "compaction": {
        const c = ev.compaction!;
        return say(style.paint("dim", "⟳"), `history compacted ${c.tokensBefore} → ${c.tokensAfter} tokens`);
      }
      case "error":
        return say(style.paint("red", "✗"), oneLine(ev.error!.message));
      case "end": {
        const end = ev.end!;
        const took = state.startedAt ? ` · ${formatDurationMs(ts - state.startedAt)}` : "";
        const answer = oneLine(state.answer);
        this.sessions.delete(e.session);
        if (end.stopReason === "error")
          return say(style.paint("red", "■"), `failed: ${oneLine(end.error || "the turn failed")}`);
        const stop = describeStop(end.stopReason);
        const head = say(
          style.paint(stop ? "yellow" : "green", "■"),
          `${stop ?? "done"} · ${end.model} · ${formatUsage(end.usage)}${took}`,
        );
        return answer ? head.concat(style.paint("dim", truncate(`           “${answer}”`, this.width() - 1))) : head;
      }
      default:
        return [];
    }
  }

  /** `12:03:04 crab #3 ✓ text`, cut to the width. Only the text is cut, so the columns stay aligned. */
  private line(ts: number, agent: string, session: number, mark: string, text: string): string {
    const time = new Date(ts).toTimeString().slice(0, 8);
    const who = `${agent} #${session}`;
    const prefix = `${time} ${who} `;
    const room = this.width() - 1 - prefix.length - 2;
    return `${this.style.paint("dim", time)} ${this.style.paint("magenta", who)} ${mark} ${truncateStyled(text, room, this.style)}`;
  }

  private state(session: number): SessionState {
    let s = this.sessions.get(session);
    if (!s) {
      if (this.sessions.size >= MAX_TRACKED) this.sessions.delete(this.sessions.keys().next().value!);
      s = { startedAt: 0, answer: "", tools: new Map() };
      this.sessions.set(session, s);
    }
    return s;
  }
}

/** Cuts text that may hold styles: with colour on, cut the plain text and drop the styles rather than cut inside one. */
function truncateStyled(text: string, width: number, style: Style): string {
  if (!style.color) return truncate(text, width);
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "");
  return Bun.stringWidth(plain) <= width ? text : truncate(plain, width);
}
