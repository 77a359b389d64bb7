/**
 * The one scheduler: a single timer armed for the earliest next run in a
 * min-heap, never a timer per job, so 10,000 jobs cost one timer and a heap.
 *
 * Every slot ends as ran, skipped (quiet hours | overlap | disabled) or missed:
 * - a slot is claimed (state `handled` advanced and saved) before its run starts,
 *   so no restart runs it again;
 * - slots that passed while the daemon was down (or the process was suspended)
 *   are missed; with catch_up = "last" the latest of them runs once, late;
 * - at most `maxConcurrent` runs go at once; the rest wait in order.
 * The clock is injected so tests can move time (DST, catch-up) without waiting.
 */
import type { CronJobSpec } from "../config/crons.ts";
import { MinHeap } from "./heap.ts";
import { compileSchedule, type Schedule } from "./schedule.ts";
import type { CronState, SlotRecord } from "./state.ts";

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface RunResult {
  status: "ok" | "failed";
  session?: number;
  tokens?: number;
  error?: string;
}

export interface SchedulerDeps {
  clock: Clock;
  state: CronState;
  /** Runs one slot of a job as a turn; `session` is the job's kept session (continue). */
  run(job: CronJobSpec, slot: number, session: number | undefined): Promise<RunResult>;
  /** A finished run (for the bus and the log). */
  onRunEnd?(job: CronJobSpec, record: SlotRecord): void;
  /** A `once` job ran: the owner removes it from crons.toml. */
  onOnce?(job: CronJobSpec): void;
  maxConcurrent: number;
}

interface Entry {
  spec: CronJobSpec;
  schedule: Schedule;
  running: number;
  /** overlap = "queue": slots waiting behind this job's own run. */
  pending: number[];
}

/** Longest sleep: a changed wall clock (NTP, suspend) is noticed within a minute. */
const MAX_SLEEP_MS = 60_000;
/** Missed slots counted one by one at most (a per-second job down for a week is "over 10000 missed"). */
const MISSED_COUNT_CAP = 10_000;

export class Scheduler {
  private readonly jobs = new Map<string, Entry>();
  private readonly heap = new MinHeap();
  private timer: unknown = null;
  private running = 0;
  private readonly waiting: { id: string; slot: number }[] = [];
  private stopped = false;
  /** Runs in flight, for tests and shutdown. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: SchedulerDeps) {}

  set maxConcurrent(n: number) {
    this.deps.maxConcurrent = n;
    this.drain();
  }

  /**
   * Makes `specs` the job set: new jobs get their next run (and their missed
   * slots accounted for), changed ones are recomputed, removed ones forgotten.
   * Returns one line per job whose schedule cannot be compiled (it does not run).
   */
  load(specs: CronJobSpec[]): string[] {
    const errors: string[] = [];
    const now = this.deps.clock.now();
    const keep = new Set<string>();
    const claimed: { id: string; slot: number }[] = [];
    for (const spec of specs) {
      const schedule = compileSchedule(spec);
      if (typeof schedule === "string") {
        errors.push(`cron "${spec.id}": ${schedule}`);
        continue;
      }
      keep.add(spec.id);
      const old = this.jobs.get(spec.id);
      const entry: Entry = { spec, schedule, running: old?.running ?? 0, pending: old?.pending ?? [] };
      this.jobs.set(spec.id, entry);
      const st = this.deps.state.ensure(spec.id, now);
      if (st.lastRun?.status === "running" && !old) {
        // The daemon stopped during this run: it is not run again (its slot was claimed), and it says so.
        st.lastRun.status = "failed";
        st.lastRun.error = "the daemon stopped during the run";
        st.lastError = st.lastRun.error;
        this.deps.state.touch();
      }
      const slot = this.catchUp(entry, now);
      if (slot !== null) claimed.push({ id: spec.id, slot });
      st.next = schedule.next(Math.max(st.handled, now));
      if (st.next !== null) this.heap.push({ at: st.next, id: spec.id });
      this.deps.state.touch();
    }
    for (const id of [...this.jobs.keys()])
      if (!keep.has(id)) {
        this.jobs.delete(id);
        this.deps.state.forget(id);
      }
    this.deps.state.save();
    for (const c of claimed) this.enqueue(c.id, c.slot);
    this.arm();
    return errors;
  }

  /** Accounts for the slots between the last handled one and `now`; returns the slot to run late, if any. */
  private catchUp(entry: Entry, now: number): number | null {
    const st = this.deps.state.get(entry.spec.id)!;
    const slots: number[] = [];
    let count = 0;
    for (let t = entry.schedule.next(st.handled); t !== null && t <= now; t = entry.schedule.next(t)) {
      count++;
      if (slots.length < 2) slots.push(t);
      else slots[1] = t;
      if (count >= MISSED_COUNT_CAP) break;
    }
    if (count === 0) return null;
    const last = slots[slots.length - 1]!;
    st.handled = last;
    const runLate = entry.spec.catchUp === "last" && entry.spec.enabled && !entry.schedule.quiet(last);
    const missed = runLate ? count - 1 : count;
    if (missed > 0) {
      const n = count >= MISSED_COUNT_CAP ? `over ${MISSED_COUNT_CAP}` : String(missed);
      this.deps.state.record(entry.spec.id, {
        slot: slots[0]!,
        outcome: "missed",
        reason: `${n} slot(s) from ${new Date(slots[0]!).toISOString()} passed while the daemon was not running${runLate ? "; the latest runs now (catch_up = last)" : ` (catch_up = ${entry.spec.catchUp})`}`,
      });
    }
    return runLate ? last : null;
  }

  /** The job's current next run, for listings. */
  nextRun(id: string): number | null {
    return this.deps.state.get(id)?.next ?? null;
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  /** Runs a job now, outside its schedule (`cron run ID`); the schedule is unchanged. */
  runNow(id: string): boolean {
    const entry = this.jobs.get(id);
    if (!entry) return false;
    this.enqueue(id, this.deps.clock.now(), true);
    return true;
  }

  /** Stops the timer; runs in flight finish on their own (the runtime's shutdown bounds them). */
  stop(): void {
    this.stopped = true;
    this.deps.state.save();
    if (this.timer !== null) this.deps.clock.clearTimer(this.timer);
    this.timer = null;
  }

  /** Resolves when no run is in flight or waiting (tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private arm(): void {
    if (this.stopped) return;
    if (this.timer !== null) this.deps.clock.clearTimer(this.timer);
    this.timer = null;
    const top = this.heap.peek();
    if (!top) return;
    const delay = Math.max(0, Math.min(MAX_SLEEP_MS, top.at - this.deps.clock.now()));
    this.timer = this.deps.clock.setTimer(() => {
      this.timer = null;
      this.tick();
    }, delay);
  }

  /** Handles every due slot, saves the state once, then starts the runs. */
  tick(): void {
    const now = this.deps.clock.now();
    const starts: { id: string; slot: number }[] = [];
    for (let top = this.heap.peek(); top && top.at <= now; top = this.heap.peek()) {
      this.heap.pop();
      const entry = this.jobs.get(top.id);
      const st = this.deps.state.get(top.id);
      if (!entry || !st || st.next !== top.at) continue; // stale: the job changed or went
      // Several slots due at once (a suspended process): all but the latest are missed.
      const later = entry.schedule.next(top.at);
      if (later !== null && later <= now) {
        st.handled = top.at;
        st.next = later;
        this.heap.push({ at: later, id: top.id });
        this.deps.state.record(top.id, {
          slot: top.at,
          outcome: "missed",
          reason: "the process was not scheduled in time",
        });
        continue;
      }
      st.handled = top.at;
      st.next = later;
      if (later !== null) this.heap.push({ at: later, id: top.id });
      const skip = !entry.spec.enabled
        ? "disabled"
        : entry.schedule.quiet(top.at)
          ? "quiet hours"
          : entry.running > 0 && entry.spec.overlap === "skip"
            ? "overlap"
            : null;
      if (skip) this.deps.state.record(top.id, { slot: top.at, outcome: "skipped", reason: skip });
      else starts.push({ id: top.id, slot: top.at });
      this.deps.state.touch();
    }
    this.deps.state.save();
    for (const s of starts) this.enqueue(s.id, s.slot);
    this.arm();
  }

  private enqueue(id: string, slot: number, manual = false): void {
    const entry = this.jobs.get(id);
    if (!entry) return;
    if (!manual && entry.running > 0 && entry.spec.overlap === "queue") {
      entry.pending.push(slot);
      return;
    }
    this.waiting.push({ id, slot });
    this.drain();
  }

  private drain(): void {
    while (this.running < this.deps.maxConcurrent && this.waiting.length > 0) {
      const { id, slot } = this.waiting.shift()!;
      const entry = this.jobs.get(id);
      if (!entry) continue;
      this.start(entry, slot);
    }
  }

  private start(entry: Entry, slot: number): void {
    const { spec } = entry;
    const st = this.deps.state.get(spec.id);
    if (!st) return;
    const rec = this.deps.state.record(spec.id, {
      slot,
      outcome: "ran",
      status: "running",
      startedAt: this.deps.clock.now(),
    });
    this.deps.state.saveSoon(); // the slot itself was claimed (saved) before it was queued
    entry.running++;
    this.running++;
    const done = this.deps
      .run(spec, slot, spec.session === "continue" ? st.session : undefined)
      .catch((err: unknown): RunResult => ({ status: "failed", error: (err as Error).message }))
      .then((result) => {
        entry.running--;
        this.running--;
        rec.status = result.status;
        rec.endedAt = this.deps.clock.now();
        if (result.session !== undefined) rec.session = result.session;
        if (result.tokens !== undefined) rec.tokens = result.tokens;
        if (result.error) {
          rec.error = result.error;
          st.lastError = result.error;
        }
        if (spec.session === "continue" && result.session !== undefined) st.session = result.session;
        this.deps.state.saveSoon();
        this.deps.onRunEnd?.(spec, rec);
        if (spec.once && this.jobs.get(spec.id) === entry) {
          this.jobs.delete(spec.id);
          st.next = null;
          this.deps.state.save();
          this.deps.onOnce?.(spec);
        }
        const queued = entry.pending.shift();
        if (queued !== undefined && this.jobs.has(spec.id)) this.enqueue(spec.id, queued);
        this.drain();
      });
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }
}
