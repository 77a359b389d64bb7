/**
 * The dashboard's global picture, kept for the page's whole life (not per
 * view): every agent event from the daemon's event subscription (what
 * `crabtalk events` shows), the sessions with a turn running, and the
 * approval prompts waiting for an answer.
 *
 * Nothing missed, nothing twice: events are deduplicated by (session, seq).
 * The event subscription cannot resume, so after a reconnect each session
 * that was seen, or that the session list says was active while we were
 * away, is caught up with attach(after_seq = the last seq seen before the
 * drop), read up to the Attached reply's last_seq, then left. Live events
 * meanwhile arrive on the new subscription, so a caught-up event may come
 * after a newer one: the check is on the exact (session, seq) pair, not on
 * the highest seq, and the feed stays in arrival order.
 */
import type { AgentEvent, ServerMessage, StreamEvent } from "../../protocol/gen/crabtalk.ts";
import type { Connection } from "./conn.ts";

/** Events kept for the Live page; the oldest go first. Streamed text is not kept as events (see previews). */
const MAX_EVENTS = 20_000;
/** Characters of a turn's answer kept for its end row. */
const PREVIEW_CHARS = 240;

export interface Pending {
  session: number;
  agent: string;
  callId: string;
  tool: string;
  arguments: string;
  askedAtMs: number;
  timeoutMs: number;
}

export class Feed {
  events: AgentEvent[] = [];
  readonly running = new Set<number>();
  readonly pending = new Map<string, Pending>();
  readonly agents = new Set<string>();
  private readonly lastSeq = new Map<number, number>();
  /** "session:seq" of every event in `events` (the dedupe key). */
  private seen = new Set<string>();
  /** lastSeq when the connection dropped: where each session's catch-up starts. */
  private atDrop = new Map<number, number>();
  /** The newest daemon timestamp seen when the connection dropped (0: connected, or never dropped). */
  private watermarkAtDrop = 0;
  private readonly sessionAgent = new Map<number, string>();
  private readonly listeners = new Set<() => void>();
  private lastEventMs = 0;
  /** The answer streaming in per session (since its last tool call), cut to PREVIEW_CHARS. */
  private readonly answers = new Map<number, string>();
  /** Each end event's answer preview. */
  private readonly previews = new WeakMap<AgentEvent, string>();
  private notifyScheduled = false;

  constructor(private readonly conn: Connection) {
    let generation = 0;
    conn.follow({
      request: () => ({ subscribeEvents: { client: "dashboard" } }),
      onReply: (reply) => {
        if (reply.event) this.add(reply.event);
      },
    });
    conn.onState((state) => {
      if (state === "down" && this.watermarkAtDrop === 0) {
        this.atDrop = new Map(this.lastSeq);
        this.watermarkAtDrop = this.lastEventMs;
      }
      if (state !== "up") return;
      const first = generation === 0;
      generation = conn.generation;
      void this.refresh(!first);
    });
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The start of the answer a turn's end event closed ("" when none). */
  previewOf(end: AgentEvent): string {
    return this.previews.get(end) ?? "";
  }

  /** An approval was answered from this page: it no longer waits. */
  answered(callId: string): void {
    if (this.pending.delete(callId)) this.notify();
  }

  private add(e: AgentEvent): void {
    const ev = e.payload;
    if (!ev) return;
    if (e.session !== 0) {
      const last = this.lastSeq.get(e.session) ?? 0;
      if (ev.event === "chunk") {
        // Not kept as events (below), so not in `seen` either: a chunk counts only past the newest seq.
        if (ev.seq <= last) return;
      } else {
        const key = `${e.session}:${ev.seq}`;
        if (this.seen.has(key)) return;
        this.seen.add(key);
      }
      this.lastSeq.set(e.session, Math.max(ev.seq, last));
    }
    if (e.agent) {
      this.agents.add(e.agent);
      this.sessionAgent.set(e.session, e.agent);
    }
    this.lastEventMs = Math.max(this.lastEventMs, e.timestampMs || ev.timestampMs);
    this.track(e.agent, e.session, ev);
    // Streamed text is gathered into the turn's end row, not kept piece by piece (a long answer has thousands).
    if (ev.event === "chunk") {
      const sofar = this.answers.get(e.session) ?? "";
      if (sofar.length < PREVIEW_CHARS)
        this.answers.set(e.session, (sofar + ev.chunk!.content).slice(0, PREVIEW_CHARS));
      return;
    }
    if (ev.event === "start" || ev.event === "toolStart") this.answers.set(e.session, "");
    if (ev.event === "end") {
      this.previews.set(e, this.answers.get(e.session) ?? "");
      this.answers.delete(e.session);
    }
    this.events.push(e);
    if (this.events.length > MAX_EVENTS) {
      this.events = this.events.slice(-MAX_EVENTS / 2);
      this.seen = new Set(this.events.map((x) => `${x.session}:${x.payload!.seq}`));
    }
    this.notify();
  }

  private track(agent: string, session: number, ev: StreamEvent): void {
    switch (ev.event) {
      case "start":
        this.running.add(session);
        break;
      case "end":
        this.running.delete(session);
        for (const [id, p] of this.pending) if (p.session === session) this.pending.delete(id);
        break;
      case "approval": {
        const a = ev.approval!;
        this.pending.set(a.callId, {
          session: a.session || session,
          agent: a.agent || agent,
          callId: a.callId,
          tool: a.tool,
          arguments: a.arguments,
          askedAtMs: ev.timestampMs,
          timeoutMs: a.timeoutMs,
        });
        break;
      }
      case "toolResult":
        this.pending.delete(ev.toolResult!.callId);
        break;
      default:
        break;
    }
  }

  /** Running turns and pending approvals from the daemon; after a reconnect, the events missed meanwhile. */
  private async refresh(catchUp: boolean): Promise<void> {
    try {
      const [list, pending] = await Promise.all([
        this.conn.request({ sessions: { limit: 200 } }),
        this.conn.request({ pendingApprovals: {} }).catch(() => null),
      ]);
      const sessions = list.sessions?.sessions ?? [];
      this.running.clear();
      for (const s of sessions) {
        this.lastEventMs = Math.max(this.lastEventMs, s.lastActiveMs);
        this.sessionAgent.set(s.id, s.agent);
        this.agents.add(s.agent);
        if (s.running) this.running.add(s.id);
      }
      if (pending?.pendingApprovals) {
        this.pending.clear();
        for (const a of pending.pendingApprovals.approvals)
          this.pending.set(a.callId, { ...a, askedAtMs: a.askedAtMs, timeoutMs: a.timeoutMs });
      }
      this.notify();
      if (!catchUp) return;
      // The daemon's clock: activity after the newest thing seen before the drop happened while away.
      const since = this.watermarkAtDrop;
      const from = this.atDrop;
      this.atDrop = new Map();
      this.watermarkAtDrop = 0;
      const toCatchUp = sessions.filter((s) => s.lastActiveMs > since);
      for (const s of toCatchUp) await this.catchUp(s.id, from.get(s.id) ?? 0, since);
    } catch {
      // The connection dropped again: the next one refreshes.
    }
  }

  /** Events of `session` after `afterSeq` (when it was seen before) or newer than `since` (when it was not). */
  private async catchUp(session: number, afterSeq: number, since: number): Promise<void> {
    const client = await this.conn.ready();
    const controller = new AbortController();
    let last = Number.POSITIVE_INFINITY;
    try {
      for await (const reply of client.stream(
        { attach: { session, afterSeq, client: "dashboard" } },
        { signal: controller.signal },
      )) {
        if (reply.attached) last = reply.attached.lastSeq;
        else if (reply.stream && (afterSeq > 0 || reply.stream.timestampMs > since))
          this.add(asAgentEvent(reply, this.sessionAgent.get(session) ?? ""));
        if (last <= afterSeq || (reply.stream?.seq ?? 0) >= last) break;
      }
    } catch {
      // gone meanwhile: nothing to catch up
    } finally {
      controller.abort();
    }
  }

  private notify(): void {
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      for (const l of this.listeners) l();
    });
  }
}

/** A session's StreamEvent in the event subscription's shape. */
export function asAgentEvent(reply: ServerMessage, agent: string): AgentEvent {
  const ev = reply.stream!;
  return {
    agent: ev.start?.agent || agent,
    session: ev.session,
    kind: ev.event ?? "",
    payload: ev,
    timestampMs: ev.timestampMs,
  };
}
