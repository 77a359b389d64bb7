/**
 * The Session page: the conversation and the timeline of one session, live.
 *
 * Data: GetHistory for the stored conversation, and attach for the trace —
 * after_seq 0 first (the whole trace replayed, then live events), after_seq
 * = the last seq folded on every reconnect (the daemon replays what was
 * missed; the builder drops any seq it already has, so nothing is doubled).
 * The page is "ready" (data-ready, what the browser test and the bench time)
 * once the history is drawn and the replay reached the Attached reply's
 * last_seq. A live turn grows in place: its events feed the timeline and the
 * conversation's tail; when it ends the history is read again.
 * Delegated tasks' sessions are followed the same way and nested in the
 * timeline under their delegate call.
 */
import type { ServerMessage, StreamEvent } from "../../protocol/gen/crabtalk.ts";
import { type Span, TimelineBuilder, timelineRows } from "../timeline.ts";
import { startTurn } from "./compose.ts";
import type { Connection } from "./conn.ts";
import { historyItems, type Item, renderItem, Tail } from "./conversation.ts";
import { formatCount, h } from "./dom.ts";
import { TimelineView } from "./timeline-view.ts";
import { VirtualList } from "./vlist.ts";

/** One session's trace, followed across reconnects. */
class Trace {
  readonly builder = new TimelineBuilder();
  /** Attached.last_seq of the current attach: the replay is complete once the builder reaches it. */
  replayEnd = Number.POSITIVE_INFINITY;
  runningTurn = 0;
  agent = "";
  readonly stop: () => void;

  constructor(
    conn: Connection,
    readonly session: number,
    private readonly onEvent: (ev: StreamEvent, trace: Trace) => void,
    private readonly onProgress: () => void,
  ) {
    const follow = {
      request: () => {
        this.replayEnd = Number.POSITIVE_INFINITY;
        return { attach: { session, afterSeq: this.builder.seq, client: "dashboard" } };
      },
      onReply: (reply: ServerMessage) => this.reply(reply),
      onError: () => {
        this.replayEnd = this.builder.seq;
        this.onProgress();
      },
    };
    this.stop = conn.follow(follow);
  }

  get replayed(): boolean {
    return this.builder.seq >= this.replayEnd;
  }

  private reply(reply: ServerMessage): void {
    if (reply.attached) {
      this.replayEnd = reply.attached.lastSeq;
      this.runningTurn = reply.attached.runningTurn;
      this.agent = reply.attached.agent;
    } else if (reply.stream) {
      const ev = reply.stream;
      if (!this.builder.add(ev)) return;
      if (ev.event === "start") this.runningTurn = ev.seq;
      if (ev.event === "end") this.runningTurn = 0;
      this.onEvent(ev, this);
    } else return;
    if (this.replayed && this.runningTurn === 0) this.builder.settleIdle(Date.now());
    this.onProgress();
  }
}

export function sessionPage(root: HTMLElement, conn: Connection, session: number): () => void {
  let alive = true;
  let history: Item[] = [];
  let historyLoaded = false;
  let tail = new Tail();
  const children = new Map<number, Trace>();

  const title = h("h2", {}, `Session #${session}`);
  const meta = h("div", { class: "meta", "data-testid": "session-meta" });
  const tabConv = h("button", { type: "button", class: "tab on", "data-testid": "tab-conversation" }, "Conversation");
  const tabTime = h("button", { type: "button", class: "tab", "data-testid": "tab-timeline" }, "Timeline");
  const convHost = h("div", { class: "list-host", "data-testid": "conversation" });
  const timeHost = h("div", { class: "list-host timeline hidden", "data-testid": "timeline" });
  const text = h("textarea", {
    rows: 2,
    placeholder: "Send a message to this session…",
    "data-testid": "compose-text",
  });
  const send = h("button", { type: "submit", "data-testid": "compose-send" }, "Send");
  const problem = h("div", { class: "problem" });
  const form = h("form", { class: "compose", "data-testid": "compose" }, text, send, problem);
  const page = h(
    "section",
    { class: "session-page" },
    title,
    meta,
    h("div", { class: "tabs" }, tabConv, tabTime),
    convHost,
    timeHost,
    form,
  );
  root.append(page);

  const conversation = new VirtualList<Item>(convHost, { estimate: 80, stickToBottom: true, render: renderItem });
  const timeline = new TimelineView(timeHost);
  const show = (which: "conversation" | "timeline") => {
    tabConv.classList.toggle("on", which === "conversation");
    tabTime.classList.toggle("on", which === "timeline");
    convHost.classList.toggle("hidden", which !== "conversation");
    timeHost.classList.toggle("hidden", which !== "timeline");
  };
  tabConv.addEventListener("click", () => show("conversation"));
  tabTime.addEventListener("click", () => show("timeline"));

  let frame = 0;
  const draw = () => {
    frame = 0;
    if (!alive) return;
    const ready = historyLoaded && main.replayed && [...children.values()].every((c) => c.replayed);
    if (!ready && !page.dataset.ready) return; // the first paint waits for the whole picture
    conversation.setItems(tail.items.length ? history.concat(tail.items) : history);
    timeline.set(timelineRows(session, main.builder.spans, (id) => spansOf(id)));
    const tokens = main.builder.spans.reduce(
      (n, s) => n + (s.usage ? s.usage.promptTokens + s.usage.completionTokens : 0),
      0,
    );
    meta.textContent = `${main.agent || "?"} · ${main.runningTurn ? "turn running" : "idle"} · ${formatCount(tokens)} tokens · ${main.builder.spans.length} calls`;
    page.dataset.running = main.runningTurn ? "1" : "";
    if (ready) page.dataset.ready = "1";
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(draw);
  };
  const spansOf = (id: number): readonly Span[] | undefined => children.get(id)?.builder.spans;

  let reading = false;
  let readAgain = false;
  const readHistory = async () => {
    if (reading) {
      readAgain = true;
      return;
    }
    reading = true;
    try {
      do {
        readAgain = false;
        const turnsBefore = main.builder.seq;
        const reply = await conn.request({ getHistory: { session } });
        if (!alive) return;
        history = historyItems(reply.history?.messages ?? []);
        historyLoaded = true;
        // The history now holds every finished turn: the tail keeps only a turn still running.
        if (main.runningTurn === 0 && main.builder.seq === turnsBefore) tail = new Tail();
        schedule();
      } while (readAgain);
    } catch (err) {
      problem.textContent = err instanceof Error ? err.message : String(err);
    } finally {
      reading = false;
    }
  };

  const onEvent = (ev: StreamEvent, trace: Trace) => {
    if (ev.event === "toolResult")
      for (const task of main.builder.spans.find((s) => s.id === ev.toolResult!.callId)?.tasks ?? [])
        if (!children.has(task.session) && trace === main)
          children.set(task.session, new Trace(conn, task.session, () => {}, schedule));
    if (trace !== main) return;
    // Replayed finished turns are in the history already; a running one (and every live event) goes to the tail.
    if (!main.replayed && (main.runningTurn === 0 || ev.seq < main.runningTurn)) return;
    tail.add(ev);
    if (ev.event === "end" && main.replayed) void readHistory();
  };
  const main = new Trace(conn, session, onEvent, schedule);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const content = text.value.trim();
    if (!content) return;
    problem.textContent = "";
    send.disabled = true;
    tail.sent(content);
    text.value = "";
    schedule();
    void startTurn(conn, { session, content })
      .catch((err) => (problem.textContent = err instanceof Error ? err.message : String(err)))
      .finally(() => (send.disabled = false));
  });

  const offState = conn.onState((state) => {
    if (state === "up") void readHistory();
  });
  void readHistory();
  return () => {
    alive = false;
    offState();
    main.stop();
    for (const c of children.values()) c.stop();
    cancelAnimationFrame(frame);
  };
}
