/**
 * A session's conversation as list items: the stored history (GetHistory:
 * user and assistant messages, each tool call paired with its result), then
 * the turn in flight drawn from its events (streamed text, tool calls as
 * they start and finish) until the turn ends and the history is read again.
 * Items are plain objects; render() makes one element per item for the
 * virtualized list (Markdown through the escaping renderer; tool calls as
 * collapsible <details> with arguments and output; a call waiting for
 * approval also shows Approve / Deny right under it, when the page passes
 * its pending approvals).
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

interface TurnItems {
  /** Its end event arrived: once a history read started after that returns, the history has it. */
  ended: boolean;
  /** Sent from this page; its start event has not arrived yet. */
  awaitingStart: boolean;
  items: Item[];
}

/**
 * Turns not yet in the stored history, drawn from their events: streamed
 * text, tool calls as they start and finish. Kept per turn, so a history
 * read drops exactly the turns that had ended before it was asked
 * (`ended()` before the request, `drop()` after the reply): a turn that
 * started meanwhile stays, and none is ever drawn twice.
 */
export class Tail {
  items: Item[] = [];
  private turns: TurnItems[] = [];
  private current: Item | null = null;
  private readonly calls = new Map<string, Call>();

  /** A turn sent from this page: its message is known before the history has it. */
  sent(text: string): void {
    this.turns.push({ ended: false, awaitingStart: true, items: [{ kind: "user", text, ts: Date.now() }] });
    this.flatten();
  }

  /** The turns ended so far (to drop once a history read asked after now returns). */
  ended(): TurnItems[] {
    return this.turns.filter((t) => t.ended);
  }

  drop(turns: readonly TurnItems[]): void {
    if (turns.length === 0) return;
    this.turns = this.turns.filter((t) => !turns.includes(t));
    this.flatten();
  }

  add(ev: StreamEvent): void {
    let turn = this.turns.at(-1);
    if (ev.event === "start") {
      this.current = null;
      if (turn?.awaitingStart) turn.awaitingStart = false;
      else {
        turn = { ended: false, awaitingStart: false, items: [] };
        turn.items.push({ kind: "note", text: `turn started by ${ev.start!.sender || "?"}`, ts: ev.timestampMs });
        this.turns.push(turn);
      }
      this.flatten();
      return;
    }
    if (!turn || turn.awaitingStart) return; // an event of a turn whose start this page never saw
    const note = (text: string) => turn.items.push({ kind: "note", text, ts: ev.timestampMs });
    let touched: Item | undefined;
    switch (ev.event) {
      case "chunk":
        touched = this.assistant(turn, ev.timestampMs);
        touched.text += ev.chunk!.content;
        break;
      case "thinking":
        touched = this.assistant(turn, ev.timestampMs);
        touched.thinking = (touched.thinking ?? "") + ev.thinking!.content;
        break;
      case "toolStart":
        touched = this.assistant(turn, ev.timestampMs);
        for (const c of ev.toolStart!.calls) {
          const call: Call = { id: c.id, name: c.name, arguments: c.arguments };
          touched.calls = [...(touched.calls ?? []), call];
          this.calls.set(c.id, call);
        }
        break;
      case "toolResult": {
        const call = this.calls.get(ev.toolResult!.callId);
        if (call) {
          call.output = ev.toolResult!.output;
          call.isError = ev.toolResult!.isError;
          touched = turn.items.find((i) => i.calls?.includes(call));
        }
        break;
      }
      case "modelEnd":
      case "toolsComplete":
        this.current = null;
        break;
      case "approval":
        note(`${ev.approval!.tool} waits for approval`);
        break;
      case "error":
        note(`error: ${ev.error!.message}`);
        break;
      case "end":
        if (ev.end!.stopReason === "error") note(`turn failed: ${ev.end!.error}`);
        turn.ended = true;
        this.current = null;
        break;
      default:
        return;
    }
    // The item changed in place is replaced by a copy, so the virtual list redraws exactly it.
    if (touched) {
      const copy = { ...touched };
      turn.items = turn.items.map((i) => (i === touched ? copy : i));
      if (this.current === touched) this.current = copy;
    }
    this.flatten();
  }

  private flatten(): void {
    this.items = this.turns.flatMap((t) => t.items);
  }

  private assistant(turn: TurnItems, ts: number): Item {
    if (!this.current) {
      this.current = { kind: "assistant", text: "", ts };
      turn.items.push(this.current);
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

/** What the Session page passes to draw a pending call's Approve / Deny inline. */
export interface InlineApprovals {
  /** The controls for call `id` while it waits for an answer; null when it does not wait. */
  controlsFor(id: string): HTMLElement[] | null;
}

function approvalView(call: Call, controls: HTMLElement[]): HTMLElement {
  return h(
    "div",
    { class: "call-approval", "data-call": call.id, "data-testid": "call-approval", role: "group" },
    h("span", { class: "label" }, `${call.name} waits for your approval`),
    ...controls,
  );
}

export function renderItem(item: Item, approvals?: InlineApprovals): HTMLElement {
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
    ...(item.calls ?? []).flatMap((call) => {
      const controls = call.output === undefined ? approvals?.controlsFor(call.id) : null;
      return controls ? [callView(call), approvalView(call, controls)] : [callView(call)];
    }),
  );
}
