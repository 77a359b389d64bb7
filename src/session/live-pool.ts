/**
 * The live sessions a runtime keeps in memory, and the policy that keeps
 * that memory flat: idle sessions are dropped after a while (or past a count),
 * and idle histories are released within a character budget; a released
 * history is read back from the store by the next turn or compaction.
 */
import { collectSoon, quietCollector } from "../util/collect.ts";
import type { LiveSession } from "./live-session.ts";

/**
 * Sessions kept in memory at most; the least recently used idle ones go
 * first. An idle live session holds no more than its counters once its
 * history is released (about 2 KB), so 4,096 of them cost a few MB.
 */
const MAX_LIVE_SESSIONS = 4096;

/**
 * Characters of history that idle live sessions keep in memory together
 * (4 Mi: hundreds of ordinary conversations, so a chat that goes on does
 * not read its history back every turn); past it, the least recently used
 * release theirs, and a session whose own history is larger releases it as
 * soon as its turn ends (a 16 MB answer is not held after it is written).
 */
const IDLE_HISTORY_CHARS = 4 * 1024 * 1024;
/** Releasing this much history at once is worth a collection (see collectSoon). */
const BIG_RELEASE_CHARS = 1024 * 1024;
/** An idle session's history is released after this long unused, whatever its size. */
const HISTORY_IDLE_MS = 60_000;
/** An idle session without attached clients leaves memory after this long unused, by default. */
const DEFAULT_IDLE_EVICT_MS = 5 * 60_000;

export interface LivePoolOptions {
  /** Whether a client follows this session (such a session is never dropped). */
  hasClientOn: (id: number) => boolean;
  idleEvictMs?: number;
  /** Characters of history idle live sessions keep in memory in all (see IDLE_HISTORY_CHARS). */
  idleHistoryChars?: number;
}

export class LivePool {
  private readonly live = new Map<number, LiveSession>();

  constructor(private readonly options: LivePoolOptions) {}

  get size(): number {
    return this.live.size;
  }

  get(id: number): LiveSession | undefined {
    return this.live.get(id);
  }

  values(): IterableIterator<LiveSession> {
    return this.live.values();
  }

  /** Adds a session made live, dropping the least recently used idle ones past MAX_LIVE_SESSIONS. */
  add(session: LiveSession): void {
    this.live.set(session.id, session);
    this.evictOverflow();
  }

  /** Forgets the session, only if it is still this one (a newer load may have replaced it). */
  remove(session: LiveSession): void {
    if (this.live.get(session.id) === session) this.live.delete(session.id);
  }

  /** Every live session's queued appends written. */
  async flushAll(): Promise<void> {
    await Promise.all([...this.live.values()].map((s) => s.flushTrace()));
  }

  /** The periodic sweep: drops long-idle sessions nobody follows, releases histories idle past HISTORY_IDLE_MS. */
  sweep(now = Date.now()): void {
    const idleMs = this.options.idleEvictMs ?? DEFAULT_IDLE_EVICT_MS;
    for (const [id, s] of this.live) {
      if (!s.busy && now - s.lastUsed > idleMs && !this.options.hasClientOn(id)) {
        void s.flushTrace();
        this.live.delete(id);
      } else if (!s.busy && now - s.lastUsed > HISTORY_IDLE_MS) s.releaseHistory();
    }
  }

  /**
   * Keeps the histories of idle sessions within the budget in all: one
   * larger than the budget alone goes first, then the least recently used;
   * run after each turn and compaction, which also tells the quiet-time
   * collector (see QuietCollector) that a turn ended.
   */
  trimHistories(): void {
    quietCollector.turnEnded(() => this.anyBusy());
    const budget = this.options.idleHistoryChars ?? IDLE_HISTORY_CHARS;
    const idle = [...this.live.values()]
      .filter((s) => !s.busy && s.historyLoaded)
      .map((s) => ({ s, chars: s.historyChars() }));
    let held = idle.reduce((sum, x) => sum + x.chars, 0);
    if (held <= budget) return;
    idle.sort((a, b) => Number(b.chars > budget) - Number(a.chars > budget) || a.s.lastUsed - b.s.lastUsed);
    let released = 0;
    for (const x of idle) {
      if (held <= budget) break;
      if (!x.s.releaseHistory()) continue;
      held -= x.chars;
      released += x.chars;
    }
    if (released >= BIG_RELEASE_CHARS) collectSoon();
  }

  /** Whether any live session has a turn queued or running. */
  anyBusy(): boolean {
    for (const s of this.live.values()) if (s.busy) return true;
    return false;
  }

  private evictOverflow(): void {
    if (this.live.size <= MAX_LIVE_SESSIONS) return;
    const idle = [...this.live.values()]
      .filter((s) => !s.busy && !this.options.hasClientOn(s.id))
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const s of idle.slice(0, this.live.size - MAX_LIVE_SESSIONS)) {
      void s.flushTrace();
      this.live.delete(s.id);
    }
  }
}
