/**
 * The Live page: every agent's events as they happen (the Feed), one row per
 * thing worth seeing, like `crabtalk events` — a turn started, a tool called
 * and how it ended, an approval waiting, the end with model and tokens.
 * Streamed text is gathered into its turn's end row, not shown piece by
 * piece. Filter by agent, pause (new rows wait, counted, until resumed), and
 * the count of turns running now.
 */
import type { AgentEvent } from "../../protocol/gen/crabtalk.ts";
import { formatCount, formatDuration, formatTime, h, summarizeArgs } from "./dom.ts";
import type { Feed } from "./feed.ts";
import { VirtualList } from "./vlist.ts";

interface Row {
  event: AgentEvent;
  mark: string;
  tone: string;
  text: string;
}

/** Rows built incrementally from the feed's events (streamed text comes as the end row's preview). */
class Rows {
  rows: Row[] = [];
  private source: readonly AgentEvent[] = [];
  private done = 0;

  constructor(
    private readonly agent: string,
    private readonly previewOf: (end: AgentEvent) => string,
  ) {}

  /** Rows for `events[0, upTo)`; reuses earlier rows while `events` is the same array (the feed appends). */
  update(events: readonly AgentEvent[], upTo: number): Row[] {
    if (events !== this.source || upTo < this.done) {
      this.source = events;
      this.done = 0;
      this.rows = [];
    }
    const before = this.rows.length;
    for (; this.done < upTo; this.done++) this.add(events[this.done]!);
    if (this.rows.length !== before) this.rows = this.rows.slice();
    return this.rows;
  }

  private add(e: AgentEvent): void {
    const { rows, agent } = this;
    if (agent && e.agent !== agent) return;
    const ev = e.payload!;
    const row = (mark: string, tone: string, text: string) => rows.push({ event: e, mark, tone, text });
    switch (ev.event) {
      case "start":
        row("▶", "start", `turn started by ${ev.start!.sender || "?"}`);
        break;
      case "toolStart":
        for (const c of ev.toolStart!.calls) row("⚙", "tool", `${c.name} ${summarizeArgs(c.arguments)}`);
        break;
      case "toolResult": {
        const r = ev.toolResult!;
        row(
          r.isError ? "✗" : "✓",
          r.isError ? "bad" : "ok",
          `${r.name || "tool"} ${formatDuration(r.durationMs)}${r.isError ? ` ${r.output.slice(0, 120)}` : ""}`,
        );
        break;
      }
      case "approval":
        row("?", "ask", `${ev.approval!.tool} ${summarizeArgs(ev.approval!.arguments)} waits for approval`);
        break;
      case "error":
        row("✗", "bad", ev.error!.message);
        break;
      case "end": {
        const end = ev.end!;
        const u = end.usage;
        const answer = this.previewOf(e).replace(/\s+/g, " ").trim();
        const tokens = u ? ` · ${formatCount(u.promptTokens)} in / ${formatCount(u.completionTokens)} out` : "";
        const head = end.stopReason === "error" ? `failed: ${end.error}` : `${end.stopReason || "done"} · ${end.model}`;
        row(
          "■",
          end.stopReason === "error" ? "bad" : "end",
          `${head}${tokens}${answer ? ` — “${answer.slice(0, 200)}”` : ""}`,
        );
        break;
      }
      default:
        break;
    }
  }
}

export function livePage(root: HTMLElement, feed: Feed): () => void {
  let agent = "";
  let paused = false;
  let shownUpTo = feed.events.length;
  const preview = (e: AgentEvent) => feed.previewOf(e);
  let rows = new Rows(agent, preview);
  const running = h("span", { class: "stat", "data-testid": "running" });
  const waiting = h("span", { class: "stat", "data-testid": "paused-count" });
  const select = h("select", { "aria-label": "agent", "data-testid": "agent-filter" });
  const pause = h("button", { type: "button", "data-testid": "pause" }, "Pause");
  const bar = h("div", { class: "toolbar" }, select, pause, running, waiting);
  const body = h("div", { class: "list-host" });
  root.append(h("h2", {}, "Live"), bar, body);
  const list = new VirtualList<Row>(body, {
    estimate: 28,
    stickToBottom: true,
    render: (r) =>
      h(
        "div",
        {
          class: `event-row tone-${r.tone}`,
          "data-kind": r.event.payload!.event ?? "",
          "data-session": r.event.session,
        },
        h("span", { class: "time" }, formatTime(r.event.timestampMs)),
        h(
          "a",
          {
            class: "who",
            href: `#/session/${r.event.session}`,
            title: `open session #${r.event.session}`,
            "data-testid": "open-session",
          },
          `${r.event.agent} #${r.event.session}`,
        ),
        h("span", { class: "mark" }, r.mark),
        h("span", { class: "text", title: r.text }, r.text),
      ),
  });
  const fillAgents = () => {
    const names = [...feed.agents].sort();
    if (select.options.length === names.length + 1) return;
    select.replaceChildren(h("option", { value: "" }, "all agents"), ...names.map((n) => h("option", { value: n }, n)));
    select.value = agent;
  };
  const draw = () => {
    fillAgents();
    running.textContent = `${feed.running.size} running`;
    if (!paused) shownUpTo = feed.events.length;
    const behind = feed.events.length - shownUpTo;
    waiting.textContent = paused && behind > 0 ? `${behind} new while paused` : "";
    list.setItems(rows.update(feed.events, Math.min(shownUpTo, feed.events.length)));
  };
  select.addEventListener("change", () => {
    agent = select.value;
    rows = new Rows(agent, preview);
    draw();
  });
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.classList.toggle("on", paused);
    draw();
  });
  draw();
  list.scrollToEnd();
  // At most one redraw a frame, however fast events come.
  let frame = 0;
  const off = feed.onChange(() => {
    if (!frame)
      frame = requestAnimationFrame(() => {
        frame = 0;
        draw();
      });
  });
  return () => {
    off();
    cancelAnimationFrame(frame);
  };
}
