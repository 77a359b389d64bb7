/**
 * One session's trace in the page, followed live across reconnects, loaded
 * so a long session paints fast.
 *
 * Attach replays events one WebSocket message each, and a browser spends
 * tens of microseconds per message before any work of ours: a 10,000-event
 * trace takes most of a second just to arrive. So a long trace is loaded in
 * two ranges. A probe (attach without after_seq: only its Attached reply,
 * with last_seq) says how long it is; past WINDOW events the page follows
 * from last_seq − WINDOW (recent turns, then live events) and draws a preview
 * of the whole turns in that window at once; then the older events are
 * replayed behind it (a second attach from 0, left at the cut). Once they
 * are in, the full builder takes them, then the recent ones in seq order,
 * and replaces the preview. A short trace is simply followed from 0.
 *
 * Nothing twice, nothing missed: the follow re-attaches after every
 * reconnect from the last seq it saw, every builder ignores seqs it has,
 * and the older pass resumes from where it stopped.
 */
import type { ServerMessage, StreamEvent } from "../../protocol/gen/crabtalk.ts";
import { type Span, TimelineBuilder } from "../timeline.ts";
import { DaemonError } from "../../client/errors.ts";
import type { Connection } from "./conn.ts";

/** Events drawn before the older part of a long trace has arrived. */
export const WINDOW = 1000;

export interface TraceListener {
  /** A new event of the followed stream; `inTail`: it belongs to a turn not yet in the stored history. */
  event(ev: StreamEvent, inTail: boolean): void;
  /** Anything changed (spans, replay progress): redraw when convenient. */
  progress(): void;
  /** A (re)attach's replay is complete: turns that ran meanwhile are in the stored history now. */
  caughtUp(): void;
}

export class Trace {
  private readonly full = new TimelineBuilder();
  private preview: TimelineBuilder | null = null;
  /** Followed events held until the older part is in (applied to `full` after it, in seq order). */
  private pending: StreamEvent[] = [];
  private seen = 0;
  private cut = 0;
  private replayEnd = Number.POSITIVE_INFINITY;
  private caught = false;
  private alive = true;
  private olderStarted = false;
  private stopFollow: () => void = () => {};
  /** seq of the turn running now; 0 when idle. */
  runningTurn = 0;
  /** The turn running when the current attach began (its replayed events are not in the history yet). */
  private runningAtAttach = 0;
  agent = "";
  /** Why the daemon refused to attach (an unknown session), for the page to say; "" when none. */
  error = "";

  constructor(
    private readonly conn: Connection,
    readonly session: number,
    private readonly listener: TraceListener,
    windowed = true,
  ) {
    void this.begin(windowed);
  }

  /** The spans to draw: the whole trace once in, the recent window's before. */
  get spans(): readonly Span[] {
    return (this.preview ?? this.full).spans;
  }

  /** The followed stream reached the end of its replay (the page can paint). */
  get replayed(): boolean {
    return this.seen >= this.replayEnd;
  }

  /** The older part of a long trace is in too. */
  get complete(): boolean {
    return this.preview === null;
  }

  stop(): void {
    this.alive = false;
    this.stopFollow();
  }

  private async begin(windowed: boolean): Promise<void> {
    if (windowed) {
      try {
        const probe = await this.conn.request({ attach: { session: this.session, client: "dashboard" } });
        const last = probe.attached?.lastSeq ?? 0;
        if (last > WINDOW) {
          this.cut = last - WINDOW;
          this.seen = this.cut;
          this.preview = new TimelineBuilder({ fromTurnStart: true });
        }
      } catch {
        // unknown session or the connection dropped: the follow below reports or retries
      }
    }
    if (!this.alive) return;
    this.stopFollow = this.conn.follow({
      request: () => {
        this.replayEnd = Number.POSITIVE_INFINITY;
        this.caught = false;
        return { attach: { session: this.session, afterSeq: this.seen, client: "dashboard" } };
      },
      onReply: (reply) => this.reply(reply),
      onError: (err) => {
        this.error = err.message;
        this.replayEnd = this.seen;
        this.listener.progress();
      },
    });
  }

  private reply(reply: ServerMessage): void {
    if (reply.attached) {
      this.replayEnd = reply.attached.lastSeq;
      this.runningTurn = reply.attached.runningTurn;
      this.runningAtAttach = reply.attached.runningTurn;
      this.agent = reply.attached.agent;
    } else if (reply.stream) {
      const ev = reply.stream;
      if (ev.seq <= this.seen) return;
      this.seen = ev.seq;
      if (ev.event === "start") this.runningTurn = ev.seq;
      if (ev.event === "end") this.runningTurn = 0;
      if (this.preview) {
        this.pending.push(ev);
        this.preview.add(ev);
      } else this.full.add(ev);
      // Replayed finished turns are in the stored history; a running one and everything live are not.
      this.listener.event(ev, this.replayed || (this.runningAtAttach !== 0 && ev.seq >= this.runningAtAttach));
    } else return;
    if (this.replayed && this.runningTurn === 0) {
      this.full.settleIdle(Date.now());
      this.preview?.settleIdle(Date.now());
    }
    if (this.replayed && !this.caught) {
      this.caught = true;
      // The older part follows the recent window, not alongside it: one connection carries both.
      if (this.preview && !this.olderStarted) {
        this.olderStarted = true;
        void this.older();
      }
      this.listener.caughtUp();
    }
    this.listener.progress();
  }

  /** Replays events 1..cut into the full builder (resuming after a drop), then hands over from the preview. */
  private async older(): Promise<void> {
    while (this.alive && this.full.seq < this.cut) {
      const client = await this.conn.ready();
      const controller = new AbortController();
      try {
        for await (const reply of client.stream(
          { attach: { session: this.session, afterSeq: this.full.seq, client: "dashboard" } },
          { signal: controller.signal },
        )) {
          if (!this.alive) break;
          const ev = reply.stream;
          if (!ev) continue;
          if (ev.seq <= this.cut) this.full.add(ev);
          if (ev.seq >= this.cut) break;
        }
      } catch (err) {
        // Dropped: resume from full.seq on the next connection. Refused: keep what arrived.
        if (err instanceof DaemonError) break;
      } finally {
        controller.abort();
      }
    }
    if (!this.alive) return;
    for (const ev of this.pending) this.full.add(ev);
    this.pending = [];
    if (this.replayed && this.runningTurn === 0) this.full.settleIdle(Date.now());
    this.preview = null;
    this.listener.progress();
  }
}
