/**
 * The one event-stream primitive: a push-driven async iterable with a final
 * result. Producers `push()` events and finish with `end(result)`; one
 * consumer iterates with `for await` and may read `result()` afterwards.
 *
 * Contract: streams never throw once started. A producer that fails pushes
 * a terminal event describing the failure and then calls `end()`; `result()`
 * resolves with whatever the producer passed to `end()`.
 *
 * `push` never refuses: producers here are in-process code (a provider
 * parser, the agent loop). A producer that can outrun its consumer (the
 * provider reader, parsing a whole network read at once) awaits `room()`
 * between pushes, so the backlog stays near HIGH_WATER instead of holding a
 * fast model's whole answer as event objects (measured: 720,000 events
 * waiting during six 16 MB answers). Queues a remote *client* can fill are
 * bounded at the transport and subscriber level (see
 * transport/outbound-queue.ts).
 */

/** Events a producer lets wait before it pauses: a few network reads' worth, microseconds of consumer work. */
export const HIGH_WATER = 1024;
export class EventStream<E, R = void> implements AsyncIterable<E> {
  private readonly buffer: E[] = [];
  private waiting: ((r: IteratorResult<E>) => void) | null = null;
  private done = false;
  private finalResult!: R;
  private readonly resultPromise: Promise<R>;
  private iterating = false;
  private roomWaiters: (() => void)[] = [];
  private resolveResult!: (r: R) => void;

  constructor() {
    this.resultPromise = new Promise<R>((resolve) => (this.resolveResult = resolve));
  }

  /** Events pushed and not yet taken by the consumer. */
  get backlog(): number {
    return this.buffer.length;
  }

  /**
   * Resolves once the backlog is at most HIGH_WATER / 4, or at once when it
   * is under HIGH_WATER, the stream ended, or nobody iterates it (a caller
   * that only awaits `result()` must not stall its producer).
   */
  room(): Promise<void> {
    if (!this.iterating || this.done || this.buffer.length < HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  private wakeProducers(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  get ended(): boolean {
    return this.done;
  }

  push(event: E): void {
    if (this.done) return;
    const waiter = this.waiting;
    if (waiter) {
      this.waiting = null;
      waiter({ value: event, done: false });
    } else {
      this.buffer.push(event);
    }
  }

  end(result: R): void {
    if (this.done) return;
    this.done = true;
    this.finalResult = result;
    this.resolveResult(result);
    this.wakeProducers();
    const waiter = this.waiting;
    if (waiter) {
      this.waiting = null;
      waiter({ value: undefined, done: true });
    }
  }

  result(): Promise<R> {
    return this.resultPromise;
  }

  /**
   * The next waiting event without a promise, or undefined when none waits
   * (events are never undefined). For a consumer that already iterates this
   * stream and wants to skip the per-event promise and result object: with
   * hundreds of thousands of deltas a turn, those were a good part of the
   * garbage. Wakes paused producers exactly as `next()` does.
   */
  takeNow(): E | undefined {
    if (this.buffer.length === 0) return undefined;
    const value = this.buffer.shift()!;
    if (this.roomWaiters.length > 0 && this.buffer.length <= HIGH_WATER / 4) this.wakeProducers();
    return value;
  }

  [Symbol.asyncIterator](): AsyncIterator<E> {
    this.iterating = true;
    return {
      next: (): Promise<IteratorResult<E>> => {
        if (this.buffer.length > 0) return Promise.resolve({ value: this.takeNow()!, done: false });
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiting = resolve));
      },
      return: (): Promise<IteratorResult<E>> => {
        this.buffer.length = 0;
        this.iterating = false;
        this.wakeProducers();
        if (!this.done) this.end(this.finalResult);
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
