/**
 * A counting semaphore: at most `limit` holders at once, the rest wait in
 * arrival order. Waiting is cancellable by an AbortSignal (the waiter is
 * removed and `acquire` rejects with the signal's reason), so a cancelled
 * turn never holds a place in the line.
 */
export class Semaphore {
  private held = 0;
  private readonly waiting: { grant: () => void }[] = [];

  constructor(private limit: number) {}

  get inUse(): number {
    return this.held;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Changes the limit; waiters are let in as room appears. */
  setLimit(limit: number): void {
    this.limit = limit;
    this.drain();
  }

  /** Resolves with a release function once a place is free. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          this.held++;
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.held--;
            this.drain();
          });
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
      this.drain();
    });
  }

  private drain(): void {
    while (this.held < this.limit && this.waiting.length > 0) this.waiting.shift()!.grant();
  }
}
