/**
 * The look of a turn, shared by attach, send on a terminal and replay: the
 * answer streamed through the Markdown formatter, thinking dimmed, each
 * tool call as one line (spinner while it runs, then ✓ or ✗ with its
 * duration), and a one-line footer with the model and tokens.
 *
 * Only one line is ever rewritten: the live status line at the bottom
 * (spinner), and only on a terminal (`animate`). It is always cleared
 * before anything else is printed and never longer than the width, so it
 * cannot wrap and leave debris. Control characters in event text are shown,
 * never sent raw to the terminal (sanitize.ts). Without `animate` every line is printed
 * once, finished.
 */
import type { StreamEvent, ToolCallInfo, Usage } from "../../protocol/gen/crabtalk.ts";
import { MarkdownStream } from "./markdown.ts";
import { addUsage, describeStop, formatDurationMs, formatUsage, summarizeArguments, ZERO_USAGE } from "./format.ts";
import { visibleDeep } from "./sanitize.ts";
import { displayWidth, oneLine, truncate, type Style } from "./style.ts";

export interface Sink {
  write(text: string): void;
  readonly isTTY: boolean;
  columns(): number;
}

export interface TurnRenderOptions {
  style: Style;
  sink: Sink;
  /** Spinner and a rewritten status line; only on a terminal. */
  animate: boolean;
  showThinking?: boolean;
  /** Print each model call's tokens as it ends (replay). */
  perCallUsage?: boolean;
}

interface RunningTool {
  call: ToolCallInfo;
  startedAt: number;
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** Ten frames a second: smooth enough to look alive, cheap over a slow SSH link. */
const SPINNER_MS = 100;

export class TurnRenderer {
  showThinking: boolean;
  private md: MarkdownStream;
  private mode: "none" | "text" | "thinking" = "none";
  private atLineStart = true;
  /** Lines of the live region now on screen (the spinner line, then one per running task); 0 when none. */
  private liveLines = 0;
  /** Delegated tasks running under this turn: one live line each. */
  private readonly tasks = new Map<number, { agent: string; tools: number; startedAt: number }>();
  private waiting = false;
  private readonly running = new Map<string, RunningTool>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private frame = 0;
  private turnStartedAt = 0;
  private turnUsage: Usage = ZERO_USAGE;
  private held = false;

  constructor(private readonly opts: TurnRenderOptions) {
    this.showThinking = opts.showThinking ?? true;
    this.md = new MarkdownStream(opts.style, () => opts.sink.columns());
  }

  private get width(): number {
    return Math.max(20, this.opts.sink.columns() - 1);
  }

  /** The user sent a message: show that we are waiting for the model. */
  begin(): void {
    this.waiting = true;
    this.turnStartedAt = Date.now();
    this.tick();
  }

  /** Renders one event; every string in it is made terminal-safe first (sanitize.ts). */
  event(raw: StreamEvent): void {
    const ev = visibleDeep(raw);
    const ts = ev.timestampMs || Date.now();
    switch (ev.event) {
      case "start":
        this.turnStartedAt = ts;
        this.turnUsage = ZERO_USAGE;
        this.waiting = true;
        return this.tick();
      case "thinking":
        if (!this.showThinking) return;
        this.waiting = false;
        this.enterMode("thinking");
        return this.print(this.opts.style.paint("dim", ev.thinking!.content));
      case "chunk":
        this.waiting = false;
        this.enterMode("text");
        return this.print(this.md.push(ev.chunk!.content));
      case "toolStart":
        this.waiting = false;
        this.enterMode("none");
        for (const call of ev.toolStart!.calls) this.running.set(call.id, { call, startedAt: ts });
        return this.tick();
      case "toolResult":
        return this.toolDone(ev, ts);
      case "toolsComplete":
        for (const id of [...this.running.keys()]) this.toolAbandoned(id, "no result");
        this.waiting = true;
        return this.tick();
      case "modelEnd": {
        this.turnUsage = addUsage(this.turnUsage, ev.modelEnd!.usage);
        if (this.opts.perCallUsage) {
          this.enterMode("none");
          this.line(this.opts.style.paint("dim", `  · ${ev.modelEnd!.model} call: ${formatUsage(ev.modelEnd!.usage)}`));
        }
        return;
      }
      case "approval": {
        const a = ev.approval!;
        this.enterMode("none");
        return this.line(
          `${this.opts.style.paint("yellow", "?")} ${this.opts.style.paint("bold", a.tool)} ${truncate(summarizeArguments(a.tool, a.arguments), this.width - a.tool.length - 20)} ${this.opts.style.paint("yellow", "needs your approval")}`,
        );
      }
      case "compaction": {
        const c = ev.compaction!;
        this.enterMode("none");
        return this.line(
          this.opts.style.paint(
            "dim",
            `⟳ history compacted: ${c.tokensBefore.toLocaleString("en-US")} → ${c.tokensAfter.toLocaleString("en-US")} tokens`,
          ),
        );
      }
      case "error":
        this.enterMode("none");
        return this.line(this.opts.style.paint("red", truncate(`✗ ${oneLine(ev.error!.message)}`, this.width)));
      case "end":
        return this.end(ev, ts);
      default:
        return;
    }
  }

  /** A delegated task of this turn is running (or made another tool call): it gets a live line under the spinner. */
  setTask(id: number, task: { agent: string; tools: number; startedAt: number }): void {
    this.tasks.set(id, task);
    this.tick();
  }

  /** A delegated task ended: its live line goes. */
  removeTask(id: number): void {
    if (this.tasks.delete(id)) this.tick();
  }

  /** A line of its own (a notice from the caller), printed cleanly between whatever is on screen. */
  notice(text: string): void {
    this.enterMode("none");
    this.line(text);
  }

  /** Stops the spinner; the turn will not continue on screen (disconnect, interruption). */
  abandon(reason?: string): void {
    for (const id of [...this.running.keys()]) this.toolAbandoned(id, reason ?? "interrupted");
    this.waiting = false;
    this.enterMode("none");
    this.tick();
  }

  /** While held, the live line stays off screen (a question is being asked on that line). */
  hold(on: boolean): void {
    this.held = on;
    this.tick();
  }

  get busy(): boolean {
    return this.waiting || this.running.size > 0;
  }

  private end(ev: StreamEvent, ts: number): void {
    const end = ev.end!;
    for (const id of [...this.running.keys()])
      this.toolAbandoned(id, end.stopReason === "aborted" ? "cancelled" : "no result");
    this.waiting = false;
    this.enterMode("none");
    const { style } = this.opts;
    const usage = end.usage && (end.usage.promptTokens || end.usage.completionTokens) ? end.usage : this.turnUsage;
    const parts = [end.model || "model", formatUsage(usage)];
    if (this.turnStartedAt) parts.push(formatDurationMs(ts - this.turnStartedAt));
    let footer = style.paint("dim", truncate(`─ ${parts.join(" · ")}`, this.width));
    const stop = end.stopReason === "error" ? null : describeStop(end.stopReason);
    if (stop) footer += style.paint("yellow", ` · ${stop}`);
    this.line(footer);
    if (end.stopReason === "error")
      this.line(style.paint("red", truncate(`✗ ${oneLine(end.error || "the turn failed")}`, this.width)));
    this.turnStartedAt = 0;
    this.turnUsage = ZERO_USAGE;
    this.tick();
  }

  private toolDone(ev: StreamEvent, ts: number): void {
    const r = ev.toolResult!;
    const running = this.running.get(r.callId);
    this.running.delete(r.callId);
    const call = running?.call ?? { id: r.callId, name: r.name, arguments: "{}" };
    const { style } = this.opts;
    const mark = r.isError ? style.paint("red", "✗") : style.paint("green", "✓");
    this.enterMode("none");
    this.line(this.toolLine(mark, call, formatDurationMs(r.durationMs || (running ? ts - running.startedAt : 0))));
    if (r.isError) {
      const first = oneLine(r.output).slice(0, 500);
      if (first) this.line(style.paint("dim", truncate(`  └ ${first}`, this.width)));
    }
    this.tick();
  }

  private toolAbandoned(id: string, why: string): void {
    const running = this.running.get(id)!;
    this.running.delete(id);
    this.enterMode("none");
    this.line(this.toolLine(this.opts.style.paint("yellow", "✗"), running.call, why));
  }

  /** `✓ bash sleep 1 · 1.0s`, the summary cut so the whole line fits the width. */
  private toolLine(mark: string, call: ToolCallInfo, tail: string): string {
    const { style } = this.opts;
    const room = this.width - 2 - displayWidth(call.name) - 1 - 3 - displayWidth(tail);
    const summary = truncate(summarizeArguments(call.name, call.arguments), Math.max(0, room));
    return `${mark} ${style.paint("bold", call.name)}${summary ? ` ${summary}` : ""} ${style.paint("dim", `· ${tail}`)}`;
  }

  private enterMode(mode: "none" | "text" | "thinking"): void {
    if (this.mode === mode) return;
    if (this.mode === "text") this.print(this.md.end());
    if (this.mode === "thinking") this.print(this.opts.style.codes("dim")[1]);
    if (!this.atLineStart) this.print("\n");
    if (this.mode === "thinking" && mode === "text") this.print("\n");
    this.mode = mode;
  }

  private line(text: string): void {
    this.print(`${text}\n`);
  }

  /** Every write goes through here: the live line is cleared first, so text never lands on a spinner. */
  private print(text: string): void {
    if (!text) return;
    this.clearLive();
    this.opts.sink.write(text);
    this.atLineStart = text.endsWith("\n");
  }

  /** Erases the live region: its first line, then each line below it, and back up to where it started. */
  private clearLive(): void {
    if (this.liveLines === 0) return;
    let out = "\r\x1b[K";
    for (let i = 1; i < this.liveLines; i++) out += "\x1b[1B\x1b[K";
    if (this.liveLines > 1) out += `\x1b[${this.liveLines - 1}A`;
    this.opts.sink.write(out);
    this.liveLines = 0;
  }

  /** Redraws (or removes) the live line and keeps the spinner timer running only while there is one. */
  private tick(): void {
    if (!this.opts.animate) return;
    const lines = this.atLineStart && !this.held ? this.liveText() : null;
    if (lines === null) {
      this.clearLive();
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      return;
    }
    // Redraw in place: each line cleared to its end, lines left over from a taller region erased, cursor back on the first.
    const previous = this.liveLines;
    let out = `\r${lines[0]}\x1b[K`;
    for (const line of lines.slice(1)) out += `\n${line}\x1b[K`;
    for (let i = lines.length; i < previous; i++) out += "\n\x1b[K";
    const down = Math.max(lines.length, previous) - 1;
    if (down > 0) out += `\x1b[${down}A\r`;
    this.opts.sink.write(out);
    this.liveLines = lines.length;
    this.timer ??= setInterval(() => {
      this.frame = (this.frame + 1) % SPINNER.length;
      this.tick();
    }, SPINNER_MS);
  }

  private liveText(): string[] | null {
    const { style } = this.opts;
    const spin = style.paint("cyan", SPINNER[this.frame]!);
    const first = this.running.values().next().value;
    let head: string | null = null;
    if (first) {
      const more = this.running.size > 1 ? ` +${this.running.size - 1} more` : "";
      head = this.toolLine(spin, first.call, formatDurationMs(Date.now() - first.startedAt) + more);
    } else if (this.waiting) head = `${spin} ${style.paint("dim", "working… (Ctrl-C cancels)")}`;
    if (head === null) return null;
    const now = Date.now();
    const taskLines = [...this.tasks.entries()].map(([id, t]) => {
      const calls = `${t.tools} tool call${t.tools === 1 ? "" : "s"}`;
      const text = truncate(
        `${t.agent} · task ${id} · ${calls} · ${formatDurationMs(now - t.startedAt)}`,
        this.width - 4,
      );
      return `  ${style.paint("dim", `↳ ${text}`)}`;
    });
    return [head, ...taskLines];
  }

  /** Stops the timer; call when the view goes away. */
  dispose(): void {
    this.clearLive();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
