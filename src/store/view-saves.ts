/**
 * When the file store writes the view checkpoints resumes earned
 * (checkpoint.ts ResumeFold.saveView): once the turn the resume was for
 * has ended (right after the append holding its end event), or once the
 * session has gone `quietMs` without an append (a turn that never ended),
 * in the session's queue so it never races a delete; flushAll() writes any
 * still waiting (the store's close). Not at once: the resume is for a turn
 * whose question is appended next, and a save ahead of that append in the
 * queue (encoding and writing the view: 5 to 7 ms for 10,000 messages)
 * held back the turn's request by as much.
 */
import type { NewRecord } from "./types.ts";

/** The trace record of a turn's end event. */
const endsATurn = (r: NewRecord): boolean => r.kind === "event" && r.event.type === "end";

export class ViewSaves {
  /** Saves being written. */
  private readonly saving = new Set<Promise<void>>();
  /** Saves waiting for their session to go quiet, by session. */
  private readonly waiting = new Map<number, { save: () => Promise<void>; timer: ReturnType<typeof setTimeout> }>();

  /**
   * `enqueue` runs work in the session's queue (behind what it holds now);
   * `deleted` says whether the session was deleted meanwhile.
   */
  constructor(
    private readonly quietMs: number,
    private readonly enqueue: (id: number, work: () => Promise<void>) => Promise<void>,
    private readonly deleted: (id: number) => boolean,
  ) {}

  /** A resume earned `save`: it replaces any waiting for the session. */
  later(id: number, save: () => Promise<void>): void {
    const waiting = this.waiting.get(id);
    if (waiting) clearTimeout(waiting.timer);
    this.waiting.set(id, { save, timer: this.quietTimer(id) });
  }

  /** An append of `records`: a turn's end writes the waiting save next, behind it; anything else postpones it. */
  appended(id: number, records: readonly NewRecord[]): void {
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    if (records.some(endsATurn)) return this.now(id);
    clearTimeout(waiting.timer);
    waiting.timer = this.quietTimer(id);
  }

  /** Writes every waiting save and resolves once all being written have ended. */
  async flushAll(): Promise<void> {
    for (const id of [...this.waiting.keys()]) this.now(id);
    await Promise.all(this.saving);
  }

  private quietTimer(id: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => this.now(id), this.quietMs);
    timer.unref();
    return timer;
  }

  /** Queues a waiting save behind what the session's queue holds now. */
  private now(id: number): void {
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    clearTimeout(waiting.timer);
    this.waiting.delete(id);
    const done = this.enqueue(id, async () => {
      if (!this.deleted(id)) await waiting.save();
    })
      .catch(() => undefined)
      .finally(() => this.saving.delete(done));
    this.saving.add(done);
  }
}
