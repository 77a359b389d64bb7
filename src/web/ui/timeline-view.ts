/**
 * Draws a session's timeline (src/web/timeline.ts): one row per model call
 * and per tool call, the bar placed by its real start and sized by its
 * duration on its turn's time axis (each turn starts a group; delegated tasks' rows
 * nested under their delegate call, indented), with tokens per model call.
 * Rows are virtualized; running spans grow until they end. Each row carries
 * data-kind / data-id / data-duration for tests and tooling.
 */
import type { TimelineRow } from "../timeline.ts";
import { formatCount, formatDuration, h, summarizeArgs } from "./dom.ts";
import { VirtualList } from "./vlist.ts";

export class TimelineView {
  private readonly list: VirtualList<TimelineRow>;
  private readonly axis: HTMLElement;

  constructor(host: HTMLElement) {
    this.axis = h("div", { class: "tl-axis" });
    host.append(this.axis);
    this.list = new VirtualList<TimelineRow>(host, { estimate: 30, stickToBottom: true, render: (r) => this.row(r) });
  }

  set(rows: readonly TimelineRow[]): void {
    const turns = rows.filter((r) => r.turnFirst).length;
    this.axis.textContent = rows.length
      ? `${rows.length} calls in ${turns} turn${turns === 1 ? "" : "s"} · bars on each turn's own time axis`
      : "No model or tool calls yet.";
    this.list.setItems(rows);
  }

  private row(r: TimelineRow): HTMLElement {
    const { span } = r;
    const range = r.range.end - r.range.start;
    const duration = span.running ? Date.now() - span.startMs : span.durationMs;
    const bar = h("div", {
      class: `tl-bar tl-${span.kind}${span.error ? " tl-error" : ""}${span.running ? " tl-running" : ""}`,
    });
    bar.style.left = `${((span.startMs - r.range.start) / range) * 100}%`;
    bar.style.width = `${Math.max(0.2, (duration / range) * 100)}%`;
    const tokens =
      span.kind === "model" && span.usage
        ? `${formatCount(span.usage.promptTokens)}→${formatCount(span.usage.completionTokens)} tok`
        : "";
    const detail = span.kind === "tool" && span.arguments ? summarizeArgs(span.arguments, 40) : "";
    const label = h(
      "div",
      { class: "tl-label" },
      h("span", { class: "tl-icon" }, span.kind === "model" ? "◆" : "⚙"),
      h("span", { class: "tl-name" }, span.label),
      detail && h("span", { class: "tl-detail" }, detail),
    );
    label.style.paddingLeft = `${r.depth * 14 + 4}px`;
    const el = h(
      "div",
      {
        class: `tl-row depth-${Math.min(r.depth, 4)}${r.turnFirst ? " turn-first" : ""}`,
        "data-kind": span.kind,
        "data-id": span.id,
        "data-session": r.session,
        "data-duration": span.running ? "" : span.durationMs,
        "data-tokens": span.usage ? span.usage.promptTokens + span.usage.completionTokens : "",
        title: `${span.label}${detail ? ` ${detail}` : ""} · ${formatDuration(duration)}${tokens ? ` · ${tokens}` : ""}`,
      },
      label,
      h("div", { class: "tl-track" }, bar),
      h(
        "div",
        { class: "tl-num" },
        span.running ? "running" : formatDuration(span.durationMs),
        tokens && h("small", {}, tokens),
      ),
    );
    return el;
  }
}
