/**
 * A daemon-wide bound on the file I/O of tools.
 *
 * Bun runs async file operations on a small pool of threads, and the
 * daemon's own work (appending session files, loading history, writing
 * logs) needs that same pool. A tool's file operation that is slow or stuck
 * (a huge file, a hung network mount) must never hold every thread, or the
 * whole daemon stops answering anything but in-memory requests. So every
 * read, write and edit operation takes a slot here first; with one slot, at
 * most one pool thread is ever busy with tool I/O.
 */

/** One slot: tool file operations are short, and a second slot would be a second thread the daemon could lose. */
export const TOOL_IO_SLOTS = 1;

/** A counting semaphore; waiters are served in arrival order. */
export class IoLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly slots: number) {}

  /** Runs `op` when a slot is free; the slot is released however `op` ends. */
  async run<T>(op: () => Promise<T>): Promise<T> {
    if (this.active >= this.slots) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await op();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `active` never dips and a newcomer cannot jump the queue.
      if (next) next();
      else this.active--;
    }
  }

  get busy(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }
}

/** Shared by every agent's read, write and edit tools. */
export const toolIo = new IoLimiter(TOOL_IO_SLOTS);
