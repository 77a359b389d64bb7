/**
 * Durable per-job state in $CRABTALK_HOME/cron-state.json, written atomically
 * (temp file + rename). `handled` is the last slot whose outcome was decided
 * (ran, skipped or missed); it is saved BEFORE a run starts, so a restart
 * never fires that slot again, and every later slot is accounted for on start.
 */
import { readFileSync } from "node:fs";
import { writeFileAtomicSync } from "../util/atomic-file.ts";

export type SlotOutcome = "ran" | "skipped" | "missed";

/** One slot's record (or, for `missed`, a run of consecutive missed slots). */
export interface SlotRecord {
  slot: number;
  outcome: SlotOutcome;
  /** skipped: "quiet hours" | "overlap" | "disabled"; missed: how many slots and why. */
  reason?: string;
  /** ran: "running" until the turn ends, then "ok" or "failed". */
  status?: "running" | "ok" | "failed";
  session?: number;
  tokens?: number;
  error?: string;
  startedAt?: number;
  endedAt?: number;
}

export interface JobState {
  handled: number;
  next: number | null;
  /** The session a `session = "continue"` job keeps. */
  session?: number;
  lastRun?: SlotRecord;
  lastError?: string;
  /** Most recent last; at most HISTORY entries. */
  history: SlotRecord[];
}

const HISTORY = 50;
/** With 10,000 jobs the file is megabytes: run starts and ends are written together, at most this often. */
const SAVE_SOON_MS = 250;

export class CronState {
  private jobs: Record<string, JobState> = {};
  private dirty = false;

  constructor(private readonly file: string) {
    try {
      const doc = JSON.parse(readFileSync(file, "utf8")) as { jobs?: Record<string, JobState> };
      this.jobs = doc.jobs ?? {};
    } catch {
      // Missing (first start) or unreadable: start afresh. The write is atomic, so a torn file cannot happen.
      this.jobs = {};
    }
  }

  get(id: string): JobState | undefined {
    return this.jobs[id];
  }

  ensure(id: string, now: number): JobState {
    let s = this.jobs[id];
    if (!s) {
      s = { handled: now, next: null, history: [] };
      this.jobs[id] = s;
      this.dirty = true;
    }
    return s;
  }

  forget(id: string): void {
    if (this.jobs[id]) {
      delete this.jobs[id];
      this.dirty = true;
    }
  }

  record(id: string, rec: SlotRecord): SlotRecord {
    const s = this.jobs[id];
    if (!s) return rec;
    s.history.push(rec);
    if (s.history.length > HISTORY) s.history.splice(0, s.history.length - HISTORY);
    if (rec.outcome === "ran") s.lastRun = rec;
    this.dirty = true;
    return rec;
  }

  touch(): void {
    this.dirty = true;
  }

  private soon: ReturnType<typeof setTimeout> | null = null;

  /**
   * Saves within SAVE_SOON_MS, coalescing: for records that need not be on
   * disk before anything else happens (a run's start and end). Claims of
   * slots use save(), which is immediate.
   */
  saveSoon(): void {
    this.dirty = true;
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      this.save();
    }, SAVE_SOON_MS);
    this.soon.unref?.();
  }

  /** Writes the file when anything changed since the last save. */
  save(): void {
    if (this.soon) {
      clearTimeout(this.soon);
      this.soon = null;
    }
    if (!this.dirty) return;
    writeFileAtomicSync(this.file, JSON.stringify({ version: 1, jobs: this.jobs }));
    this.dirty = false;
  }
}
