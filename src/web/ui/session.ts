/**
 * The Session page: the conversation and the timeline of one session, live.
 *
 * Data: GetHistory for the stored conversation, and the session's Trace
 * (trace.ts: attach, windowed for long traces, resumed after reconnects
 * with after_seq, deduplicated by seq) for the timeline. The page is
 * "ready" (data-ready: what the browser test and the bench time) once the
 * history is drawn and the followed replay is complete. A live turn grows in
 * place: its events feed the timeline and the conversation's tail; when it
 * ends, or a reconnect's replay brings turns that ran meanwhile, the history
 * is read again. Delegated tasks' sessions are followed the same way and
 * nested in the timeline under their delegate call. A call of this session
 * waiting for approval (the Feed's pending list, live) shows Approve / Deny
 * inline at the call; its row is redrawn when it starts or stops waiting.
 */
import { type Span, timelineRows } from "../timeline.ts";
import { approvalControls } from "./approvals.ts";
import { startTurn } from "./compose.ts";
import type { Connection } from "./conn.ts";
import { historyItems, type InlineApprovals, type Item, renderItem, Tail } from "./conversation.ts";
import { formatCount, h } from "./dom.ts";
import type { Feed } from "./feed.ts";
import { TimelineView } from "./timeline-view.ts";
import { Trace } from "./trace.ts";
import { VirtualList } from "./vlist.ts";

export function sessionPage(root: HTMLElement, conn: Connection, feed: Feed, session: number): () => void {
  let alive = true;
  let history: Item[] = [];
  let historyLoaded = false;
  const tail = new Tail();
  const children = new Map<number, Trace>();

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
    { class: "session-page", "data-session": session },
    h("h2", {}, `Session #${session}`),
    meta,
    h("div", { class: "tabs" }, tabConv, tabTime),
    convHost,
    timeHost,
    form,
  );
  root.append(page);

  const inline: InlineApprovals = {
    controlsFor(id) {
      const p = feed.pending.get(id);
      return p && p.session === session ? approvalControls(conn, feed, p) : null;
    },
  };
  let shown: readonly Item[] = [];
  const conversation = new VirtualList<Item>(convHost, {
    estimate: 80,
    stickToBottom: true,
    render: (item) => renderItem(item, inline),
  });
  /** Call ids of this session waiting for approval, as last drawn. */
  const waitingNow = () => {
    const now = new Set<string>();
    for (const p of feed.pending.values()) if (p.session === session) now.add(p.callId);
    return now;
  };
  let waiting = waitingNow();
  const stopWatching = feed.onChange(() => {
    const now = waitingNow();
    const changed = new Set([...now, ...waiting].filter((id) => now.has(id) !== waiting.has(id)));
    waiting = now;
    page.dataset.waiting = String(now.size);
    if (changed.size === 0) return;
    shown.forEach((item, i) => {
      if (item.calls?.some((c) => changed.has(c.id))) conversation.refresh(i);
    });
  });
  const timeline = new TimelineView(timeHost);
  const show = (which: "conversation" | "timeline") => {
    tabConv.classList.toggle("on", which === "conversation");
    tabTime.classList.toggle("on", which === "timeline");
    convHost.classList.toggle("hidden", which !== "conversation");
    timeHost.classList.toggle("hidden", which !== "timeline");
  };
  tabConv.addEventListener("click", () => show("conversation"));
  tabTime.addEventListener("click", () => show("timeline"));

  const spansOf = (id: number): readonly Span[] | undefined => children.get(id)?.spans;
  /** Follows the sessions of delegated tasks as their delegate calls report them. */
  const followTasks = () => {
    for (const span of main.spans)
      for (const task of span.tasks ?? [])
        if (!children.has(task.session))
          children.set(task.session, new Trace(conn, task.session, { event() {}, progress: schedule, caughtUp() {} }));
  };

  let frame = 0;
  let lastTail: Item[] | null = null;
  let lastHistory: Item[] | null = null;
  const draw = () => {
    frame = 0;
    if (!alive) return;
    const ready = historyLoaded && main.replayed && [...children.values()].every((c) => c.replayed);
    if (!ready && !page.dataset.ready) return; // the first paint waits for the whole picture
    if (tail.items !== lastTail || history !== lastHistory) {
      shown = tail.items.length ? history.concat(tail.items) : history;
      conversation.setItems(shown);
      [lastTail, lastHistory] = [tail.items, history];
    }
    followTasks();
    timeline.set(timelineRows(session, main.spans, spansOf));
    let tokens = 0;
    for (const s of main.spans) if (s.usage) tokens += s.usage.promptTokens + s.usage.completionTokens;
    if (main.error) problem.textContent = main.error;
    const state = main.runningTurn ? "turn running" : "idle";
    const older = main.complete ? "" : " · loading older calls…";
    meta.textContent = `${main.agent || "?"} · ${state} · ${formatCount(tokens)} tokens · ${main.spans.length} calls${older}`;
    page.dataset.running = main.runningTurn ? "1" : "";
    page.dataset.complete = main.complete ? "1" : "";
    if (ready) page.dataset.ready = "1";
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(draw);
  };
  // A running call's bar grows with time, not only when an event arrives (a model thinking for a minute).
  const ticker = setInterval(() => {
    if (main.runningTurn) schedule();
  }, 500);

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
        const ended = tail.ended();
        const reply = await conn.request({ getHistory: { session } });
        if (!alive) return;
        history = historyItems(reply.history?.messages ?? []);
        historyLoaded = true;
        // Turns that had ended before the read are in this history now: drawn from it, not from the tail.
        tail.drop(ended);
        schedule();
      } while (readAgain);
    } catch (err) {
      problem.textContent = err instanceof Error ? err.message : String(err);
    } finally {
      reading = false;
    }
  };

  // Asked first: the reply is one frame, and it would otherwise queue behind the trace's replay.
  void readHistory();
  const main = new Trace(conn, session, {
    event(ev, inTail) {
      if (!inTail) return;
      tail.add(ev);
      if (ev.event === "end") void readHistory();
    },
    progress: schedule,
    caughtUp: () => void readHistory(),
  });

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

  return () => {
    alive = false;
    stopWatching();
    clearInterval(ticker);
    main.stop();
    for (const c of children.values()) c.stop();
    cancelAnimationFrame(frame);
  };
}
