/**
 * The one event-stream primitive: a push-driven async iterable with a final
 * result. Producers `push()` events and finish with `end(result)`; one
 * consumer iterates with `for await` and may read `result()` afterwards.
 *
 * Contract: streams never throw once started. A producer that fails pushes
 * a terminal event describing the failure and then calls `end()`; `result()`
 * resolves with whatever the producer passed to `end()`.
 *
 * The buffer is unbounded on purpose: producers here are in-process code
 * (a provider parser, the agent loop) whose pace is set by a remote model.
 * Queues a remote *client* can fill are bounded at the transport and
 * subscriber level instead (see transport/outbound-queue.ts).
 */
export class EventStream<E, R = void> implements AsyncIterable<E> {
  private readonly buffer: E[] = [];
  private waiting: ((r: IteratorResult<E>) => void) | null = null;
  private done = false;
  private finalResult!: R;
  private readonly resultPromise: Promise<R>;
  private resolveResult!: (r: R) => void;

  constructor() {
    this.resultPromise = new Promise<R>((resolve) => (this.resolveResult = resolve));
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
    const waiter = this.waiting;
    if (waiter) {
      this.waiting = null;
      waiter({ value: undefined, done: true });
    }
  }

  result(): Promise<R> {
    return this.resultPromise;
  }

  [Symbol.asyncIterator](): AsyncIterator<E> {
    return {
      next: (): Promise<IteratorResult<E>> => {
        if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift()!, done: false });
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiting = resolve));
      },
      return: (): Promise<IteratorResult<E>> => {
        this.buffer.length = 0;
        if (!this.done) this.end(this.finalResult);
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
