/**
 * The event bus: every event of every session goes through `publish` once,
 * already numbered, and fans out to subscriptions. Subscribers are the
 * connection that started a turn, clients attached to a session, global
 * `SubscribeEvents` streams and in-process observers (the trace writer,
 * later extensions).
 *
 * Publishing never waits: a slow subscriber cannot slow an agent. Each
 * subscription buffers at most SUBSCRIPTION_CAPACITY events; one that falls
 * further behind is closed with a SlowSubscriber error and can re-attach
 * from the last sequence number it saw.
 */
import type { Init } from "../protocol/codec.ts";
import type { StreamEvent } from "../protocol/gen/crabtalk.ts";

/** One numbered event of one session, in wire shape. */
export interface SessionEvent {
  agent: string;
  session: number;
  /** Per-session sequence number, strictly increasing, persisted with the trace. */
  seq: number;
  /** Which turn of the session (the seq of its start event), 0 for events outside turns. */
  turn: number;
  ts: number;
  /** The StreamEvent case that is set, e.g. "chunk". */
  kind: NonNullable<StreamEvent["event"]>;
  event: Init<StreamEvent>;
}

/**
 * 4,096 events: minutes of a typical stream (tokens arrive at 50-100/s and
 * most events are single tokens), at roughly 100-200 bytes each at most about
 * 1 MB per subscriber. Enough to ride out any pause of a healthy client; a
 * client further behind than that is stuck, not slow.
 */
export const SUBSCRIPTION_CAPACITY = 4096;

export class SlowSubscriber extends Error {
  /** Wire error code: 408, the client was too slow. */
  readonly code = 408;
  constructor(
    readonly lastDeliveredSeq: number,
    capacity: number,
  ) {
    super(
      `client fell more than ${capacity} events behind and was dropped; re-attach with after_seq=${lastDeliveredSeq} to resume without a gap`,
    );
    this.name = "SlowSubscriber";
  }
}

/** What a subscription wants; unset fields match everything. */
export interface EventFilter {
  session?: number;
  agent?: string;
  /** Only events of this turn: its start seq, known once the turn starts (nothing matches before). */
  turnRef?: { readonly startSeq: number | undefined };
  /** false for a client that cannot answer approval prompts (a script's SendMsg); default true. */
  interactive?: boolean;
}

export function matches(f: EventFilter, e: SessionEvent): boolean {
  return (
    (f.session === undefined || f.session === e.session) &&
    (f.agent === undefined || f.agent === e.agent) &&
    (f.turnRef === undefined || (f.turnRef.startSeq !== undefined && f.turnRef.startSeq === e.turn))
  );
}

export class Subscription implements AsyncIterable<SessionEvent> {
  private readonly buffer: SessionEvent[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private done = false;
  private lastSeq = 0;

  constructor(
    readonly filter: EventFilter,
    private readonly onClose: (s: Subscription) => void,
    private readonly capacity = SUBSCRIPTION_CAPACITY,
  ) {}

  /** Called by the bus; never blocks. */
  deliver(event: SessionEvent): void {
    if (this.done) return;
    if (this.buffer.length >= this.capacity) {
      this.fail(new SlowSubscriber(this.lastSeq, this.capacity));
      return;
    }
    this.buffer.push(event);
    this.wake();
  }

  /** Ends the stream after what is buffered; `error` makes iteration throw after that. */
  fail(error: Error): void {
    if (this.done) return;
    this.failure = error;
    this.finish();
  }

  close(): void {
    if (this.done) return;
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.onClose(this);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<SessionEvent> {
    try {
      while (true) {
        const next = this.buffer.shift();
        if (next) {
          this.lastSeq = next.seq;
          yield next;
          continue;
        }
        if (this.done) {
          if (this.failure) throw this.failure;
          return;
        }
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    } finally {
      this.close();
    }
  }
}

export type Observer = (event: SessionEvent) => void;

export class EventBus {
  private readonly subscriptions = new Set<Subscription>();
  private readonly observers = new Set<Observer>();

  subscribe(filter: EventFilter, capacity?: number): Subscription {
    const sub = new Subscription(filter, (s) => this.subscriptions.delete(s), capacity);
    this.subscriptions.add(sub);
    return sub;
  }

  /** In-process observers run synchronously and must not throw or block. */
  observe(observer: Observer): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  publish(event: SessionEvent): void {
    for (const o of this.observers) o(event);
    for (const s of this.subscriptions) if (matches(s.filter, event)) s.deliver(event);
  }

  /** Whether a client follows this session right now (the one running a turn, or one attached): such a session stays in memory. */
  hasClientOn(session: number): boolean {
    for (const s of this.subscriptions) if (s.filter.session === session) return true;
    return false;
  }

  /** Whether a client that can answer an approval prompt follows this session. */
  hasInteractiveClientOn(session: number): boolean {
    for (const s of this.subscriptions) if (s.filter.session === session && s.filter.interactive !== false) return true;
    return false;
  }

  get size(): number {
    return this.subscriptions.size;
  }
}
