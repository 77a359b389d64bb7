/**
 * A session's conversation as list items: the stored history (GetHistory:
 * user and assistant messages, each tool call paired with its result), then
 * the turn in flight drawn from its events (streamed text, tool calls as
 * they start and finish) until the turn ends and the history is read again.
 * Items are plain objects; render() makes one element per item for the
 * virtualized list (Markdown through the escaping renderer; tool calls as
 * collapsible <details> with arguments and output).
 */
import type { HistoryMessage, StreamEvent } from "../../protocol/gen/crabtalk.ts";
import { renderMarkdown } from "../markdown.ts";
import { formatTime, h, prettyJson, summarizeArgs } from "./dom.ts";

export interface Call {
  id: string;
  name: string;
  arguments: string;
  output?: string;
  isError?: boolean;
}

export interface Item {
  kind: "user" | "assistant" | "system" | "note";
  text: string;
  thinking?: string;
  calls?: Call[];
  ts: number;
}

export function historyItems(messages: readonly HistoryMessage[]): Item[] {
  const items: Item[] = [];
  const calls = new Map<string, Call>();
  for (const m of messages) {
    if (m.role === "tool") {
      const call = calls.get(m.toolCallId);
      if (call) {
        call.output = m.content;
        call.isError = m.isError;
      } else items.push({ kind: "note", text: `tool result ${m.toolCallId}: ${m.content}`, ts: m.timestampMs });
      continue;
    }
    const item: Item = {
      kind: m.role === "user" ? "user" : m.role === "assistant" ? "assistant" : "system",
      text: m.content,
      ts: m.timestampMs,
    };
    if (m.thinking) item.thinking = m.thinking;
    if (m.toolCalls.length > 0) {
      item.calls = m.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
      for (const c of item.calls) calls.set(c.id, c);
    }
    items.push(item);
  }
  return items;
}

/** The turn in flight, from its events; `changed` says which item to redraw (or that items were added). */
export class Tail {
  items: Item[] = [];
  private current: Item | null = null;
  private readonly calls = new Map<string, Call>();

  /** A turn sent from this page: its message is known before the history has it. */
  sent(text: string): void {
    this.items.push({ kind: "user", text, ts: Date.now() });
  }

  add(ev: StreamEvent): void {
    switch (ev.event) {
      case "start":
        if (this.items.at(-1)?.kind !== "user")
          this.items.push({ kind: "note", text: `turn started by ${ev.start!.sender || "?"}`, ts: ev.timestampMs });
        this.current = null;
        break;
      case "chunk":
        this.assistant(ev.timestampMs).text += ev.chunk!.content;
        break;
      case "thinking": {
        const a = this.assistant(ev.timestampMs);
        a.thinking = (a.thinking ?? "") + ev.thinking!.content;
        break;
      }
      case "toolStart": {
        const a = this.assistant(ev.timestampMs);
        for (const c of ev.toolStart!.calls) {
          const call: Call = { id: c.id, name: c.name, arguments: c.arguments };
          a.calls = [...(a.calls ?? []), call];
          this.calls.set(c.id, call);
        }
        break;
      }
      case "toolResult": {
        const call = this.calls.get(ev.toolResult!.callId);
        if (call) {
          call.output = ev.toolResult!.output;
          call.isError = ev.toolResult!.isError;
        }
        break;
      }
      case "modelEnd":
      case "toolsComplete":
        this.current = null;
        break;
      case "approval":
        this.items.push({ kind: "note", text: `${ev.approval!.tool} waits for approval`, ts: ev.timestampMs });
        break;
      case "error":
        this.items.push({ kind: "note", text: `error: ${ev.error!.message}`, ts: ev.timestampMs });
        break;
      case "end":
        if (ev.end!.stopReason === "error")
          this.items.push({ kind: "note", text: `turn failed: ${ev.end!.error}`, ts: ev.timestampMs });
        this.current = null;
        break;
      default:
        return;
    }
    // The item that changed in place is replaced by a copy, so the virtual list redraws exactly it.
    const touched =
      ev.event === "toolResult"
        ? this.items.find((i) => i.calls?.some((c) => c.id === ev.toolResult!.callId))
        : ev.event === "chunk" || ev.event === "thinking" || ev.event === "toolStart"
          ? this.current
          : undefined;
    if (touched) {
      const copy = { ...touched };
      this.items = this.items.map((i) => (i === touched ? copy : i));
      if (this.current === touched) this.current = copy;
    } else this.items = this.items.slice();
  }

  private assistant(ts: number): Item {
    if (!this.current) {
      this.current = { kind: "assistant", text: "", ts };
      this.items.push(this.current);
    }
    return this.current;
  }
}

function callView(call: Call): HTMLElement {
  const state = call.output === undefined ? "running" : call.isError ? "failed" : "ok";
  return h(
    "details",
    { class: `call call-${state}`, "data-call": call.id },
    h(
      "summary",
      {},
      h("span", { class: "call-name" }, call.name),
      h("span", { class: "call-args" }, summarizeArgs(call.arguments)),
      h("span", { class: "call-state" }, state),
    ),
    h("div", { class: "label" }, "arguments"),
    h("pre", {}, prettyJson(call.arguments)),
    call.output !== undefined && h("div", { class: "label" }, "output"),
    call.output !== undefined && h("pre", {}, call.output),
  );
}

export function renderItem(item: Item): HTMLElement {
  const body = h("div", { class: "msg-body" });
  if (item.kind === "assistant" || item.kind === "user") body.innerHTML = renderMarkdown(item.text);
  else body.textContent = item.text;
  return h(
    "div",
    { class: `msg msg-${item.kind}` },
    h(
      "div",
      { class: "msg-head" },
      h("span", { class: "role" }, item.kind),
      h("span", { class: "time" }, formatTime(item.ts)),
    ),
    item.thinking && h("details", { class: "thinking" }, h("summary", {}, "thinking"), h("pre", {}, item.thinking)),
    item.text && body,
    ...(item.calls ?? []).map(callView),
  );
}
