/**
 * The event bus: every event of every session goes through `publish` once,
 * already numbered, and fans out to subscriptions: the connection that
 * started a turn, clients attached to a session, global `SubscribeEvents`
 * streams. In-process observers (extensions, memory) attach through the
 * runtime's hooks, which isolate them (hooks.ts).
 *
 * Publishing never waits: a slow subscriber cannot slow an agent. A
 * subscriber that lags behind a token burst is not dropped for it: while
 * events wait in its buffer, consecutive text (or thinking) deltas of one
 * turn are merged into one event carrying the seq of the last delta merged,
 * so a reader that keeps reading always catches up. Only one that really
 * stops reading, with SUBSCRIPTION_CAPACITY events or SUBSCRIPTION_MAX_BYTES
 * of text waiting, is closed with SlowSubscriber and can re-attach from the
 * last sequence number it saw.
 */
import { SlowSubscriber } from "./errors.ts";
import type { SessionEvent } from "./events.ts";

/**
 * 4,096 distinct events: minutes of a typical stream once deltas merge; a
 * client further behind than that is stuck, not slow.
 */
export const SUBSCRIPTION_CAPACITY = 4096;
/** 8 MiB of delta text waiting for one subscriber: a client that lets this pile up has stopped reading. */
export const SUBSCRIPTION_MAX_BYTES = 8 * 1024 * 1024;
/** Deltas merge only once this many events wait (a reader stalled for a moment, not one keeping pace): a reader that keeps up sees every token as it came. */
const MERGE_AFTER = 1024;
/** A merged delta stays well under the 16 MiB frame limit. */
const MAX_MERGED_CHARS = 1024 * 1024;

/** Who may answer a turn's approval prompts. */
export type Approver =
  /** The requesting client, and any interactive client attached to the turn's session. */
  | { kind: "requester" }
  /** Interactive clients following another session (a delegating parent turn's). */
  | { kind: "session"; session: number }
  /** An interactive connection that named itself so (a gateway, a UI), wherever it listens. */
  | { kind: "client"; name: string }
  /** Nobody: `ask` tools are denied at once. */
  | { kind: "none" };

/** What a subscription wants; unset fields match everything. */
export interface EventFilter {
  session?: number;
  agent?: string;
  /** Only events of this turn: its start seq, known once the turn starts (nothing matches before). */
  turnRef?: { readonly startSeq: number | undefined };
  /** false for a client that cannot answer approval prompts (a script's SendMsg); default true. */
  interactive?: boolean;
  /** The name a client gave itself, for `{ kind: "client" }` approvers. */
  clientName?: string;
}

export function matches(f: EventFilter, e: SessionEvent): boolean {
  return (
    (f.session === undefined || f.session === e.session) &&
    (f.agent === undefined || f.agent === e.agent) &&
    (f.turnRef === undefined || (f.turnRef.startSeq !== undefined && f.turnRef.startSeq === e.turn))
  );
}

function deltaText(e: SessionEvent): string | undefined {
  return e.body.kind === "chunk" || e.body.kind === "thinking" ? e.body.data.content : undefined;
}

export class Subscription implements AsyncIterable<SessionEvent> {
  private buffer: SessionEvent[] = [];
  private head = 0;
  private bufferedChars = 0;
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private done = false;
  private lastSeq = 0;
  /** Deltas folded into an earlier buffered event: a measure of how far behind the reader ran. */
  merged = 0;

  constructor(
    readonly filter: EventFilter,
    private readonly onClose: (s: Subscription) => void,
    private readonly capacity = SUBSCRIPTION_CAPACITY,
    private readonly maxChars = SUBSCRIPTION_MAX_BYTES,
  ) {}

  private get waiting(): number {
    return this.buffer.length - this.head;
  }

  /** Called by the bus; never blocks. */
  deliver(event: SessionEvent): void {
    if (this.done) return;
    const text = deltaText(event);
    if (text !== undefined && this.waiting >= MERGE_AFTER && this.mergeIntoLast(event, text)) return;
    if (this.waiting >= this.capacity || this.bufferedChars + (text?.length ?? 0) > this.maxChars) {
      this.fail(new SlowSubscriber(this.lastSeq, this.capacity));
      return;
    }
    this.buffer.push(event);
    this.bufferedChars += text?.length ?? 0;
    this.wake();
  }

  /** Folds a delta into the last waiting event when it is a delta of the same kind and turn. */
  private mergeIntoLast(event: SessionEvent, text: string): boolean {
    const last = this.buffer[this.buffer.length - 1];
    if (!last || this.waiting === 0 || last.body.kind !== event.body.kind || last.turn !== event.turn) return false;
    if (last.session !== event.session) return false;
    const lastText = deltaText(last)!;
    if (lastText.length + text.length > MAX_MERGED_CHARS) return false;
    if (this.bufferedChars + text.length > this.maxChars) return false;
    // A fresh object: the event delivered to other subscribers must not change under them.
    this.buffer[this.buffer.length - 1] = {
      ...event,
      body: { kind: event.body.kind, data: { content: lastText + text } } as SessionEvent["body"],
    };
    this.bufferedChars += text.length;
    this.merged++;
    return true;
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

  private take(): SessionEvent | undefined {
    if (this.head >= this.buffer.length) return undefined;
    const next = this.buffer[this.head]!;
    this.buffer[this.head] = undefined as unknown as SessionEvent;
    this.head++;
    // Compact now and then so the array does not grow with everything ever delivered.
    if (this.head >= 1024 && this.head * 2 >= this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
    this.bufferedChars -= deltaText(next)?.length ?? 0;
    return next;
  }

  /**
   * Written by hand rather than as an async generator: each `yield` of a
   * generator costs several promises and result objects, and a big answer
   * passes hundreds of thousands of deltas through here. Same contract as
   * the generator it replaces: events in order, then the failure (thrown)
   * or the end; leaving early (`return`) closes the subscription. One
   * consumer at a time (as `for await` is).
   */
  [Symbol.asyncIterator](): AsyncIterator<SessionEvent> {
    let finished = false;
    const wait = (resolve: () => void) => {
      this.waiter = resolve;
    };
    const next = (): Promise<IteratorResult<SessionEvent>> => {
      if (finished) return Promise.resolve({ value: undefined, done: true });
      const event = this.take();
      if (event) {
        this.lastSeq = event.seq;
        return Promise.resolve({ value: event, done: false });
      }
      if (this.done) {
        finished = true;
        this.close();
        return this.failure ? Promise.reject(this.failure) : Promise.resolve({ value: undefined, done: true });
      }
      return new Promise<void>(wait).then(next);
    };
    return {
      next,
      return: (): Promise<IteratorResult<SessionEvent>> => {
        finished = true;
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

export class EventBus {
  private readonly subscriptions = new Set<Subscription>();

  subscribe(filter: EventFilter, capacity?: number): Subscription {
    const sub = new Subscription(filter, (s) => this.subscriptions.delete(s), capacity);
    this.subscriptions.add(sub);
    return sub;
  }

  /** Delivers to every matching subscription, and to those `alsoTo` picks (an approval routed to a parent's client). */
  publish(event: SessionEvent, alsoTo?: (filter: EventFilter) => boolean): void {
    for (const s of this.subscriptions) {
      if (matches(s.filter, event) || alsoTo?.(s.filter)) s.deliver(event);
    }
  }

  /** Whether a client follows this session right now (the one running a turn, or one attached): such a session stays in memory. */
  hasClientOn(session: number): boolean {
    for (const s of this.subscriptions) if (s.filter.session === session) return true;
    return false;
  }

  /** Whether someone who may answer `approver`'s prompts for a turn of `session` is listening now. */
  hasApproverFor(approver: Approver, session: number): boolean {
    for (const s of this.subscriptions) if (reachesApprover(s.filter, approver, session)) return true;
    return false;
  }

  get size(): number {
    return this.subscriptions.size;
  }
}

/** Whether a subscription is an interactive listener that `approver` names, for a turn on `session`. */
export function reachesApprover(f: EventFilter, approver: Approver, session: number): boolean {
  if (f.interactive === false) return false;
  switch (approver.kind) {
    case "requester":
      return f.session === session;
    case "session":
      return f.session === approver.session;
    case "client":
      return f.clientName === approver.name;
    case "none":
      return false;
  }
}
