/**
 * When a chat's reply may next be edited: at most one edit per interval
 * (about a second: Telegram allows roughly one message a second per chat),
 * and never before a 429's retry_after has passed. Pure: the caller passes
 * the clock, so the unit tests need no timers.
 */
export class EditThrottle {
  private lastAt = Number.NEGATIVE_INFINITY;
  private blockedUntil = 0;

  constructor(readonly intervalMs = 1000) {}

  /** Milliseconds to wait before the next edit may go out (0 = now). */
  delay(now: number): number {
    return Math.max(0, this.lastAt + this.intervalMs - now, this.blockedUntil - now);
  }

  /** An edit went out at `now`. */
  sent(now: number): void {
    this.lastAt = now;
  }

  /** Telegram answered 429 with retry_after seconds: nothing goes out before then. */
  rateLimited(now: number, retryAfterSeconds: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, now + Math.max(1, retryAfterSeconds) * 1000);
  }
}
