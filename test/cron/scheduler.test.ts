/**
 * The scheduler with an injected clock: one timer for many jobs, catch-up
 * after downtime (last / none), suspended-process slots recorded as missed,
 * max_concurrent_runs queueing, overlap queue, and 10,000 jobs' next runs.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CronJobSpec } from "../../src/config/crons.ts";
import { Scheduler, type Clock, type RunResult } from "../../src/cron/scheduler.ts";
import { CronState } from "../../src/cron/state.ts";

class FakeClock implements Clock {
  t: number;
  timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;
  constructor(start: number) {
    this.t = start;
  }
  now() {
    return this.t;
  }
  setTimer(fn: () => void, ms: number) {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimer(h: unknown) {
    this.timers.delete(h as number);
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
  }
}

function job(id: string, over: Partial<CronJobSpec> = {}): CronJobSpec {
  return {
    id,
    schedule: "@every 1m",
    timezone: "UTC",
    agent: "crab",
    message: "m",
    session: "continue",
    quietHours: "",
    overlap: "skip",
    catchUp: "last",
    once: false,
    enabled: true,
    ...over,
  };
}

const dirs: string[] = [];
const schedulers: Scheduler[] = [];
afterEach(() => {
  // Stopped first: stop() saves the state now, so no delayed save (a real 250 ms timer) fires into a removed directory.
  for (const s of schedulers.splice(0)) s.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function stateFile(): string {
  const d = mkdtempSync(join(tmpdir(), "crabtalk-cron-unit-"));
  dirs.push(d);
  return join(d, "cron-state.json");
}

const T0 = Date.parse("2026-06-01T10:00:30Z");

function make(clock: FakeClock, file: string, run: (id: string, slot: number) => Promise<RunResult>, max = 4) {
  const s = new Scheduler({
    clock,
    state: new CronState(file),
    maxConcurrent: max,
    run: (j, slot) => run(j.id, slot),
  });
  schedulers.push(s);
  return s;
}

describe("scheduler", () => {
  test("one timer for many jobs; each fires at its slot", async () => {
    const clock = new FakeClock(T0);
    const runs: string[] = [];
    const s = make(clock, stateFile(), async (id, slot) => {
      runs.push(`${id}@${new Date(slot).toISOString().slice(11, 19)}`);
      return { status: "ok" };
    });
    s.load([job("a"), job("b", { schedule: "@every 30s" })]);
    expect(clock.timers.size).toBe(1);
    clock.advance(30_000);
    await s.idle();
    clock.advance(31_000);
    await s.idle();
    expect(runs).toEqual(["a@10:01:00", "b@10:01:00", "b@10:01:30"]);
    expect(clock.timers.size).toBe(1);
  });

  test("after downtime: catch_up = last runs the latest missed slot once, none runs nothing; both record missed", async () => {
    const file = stateFile();
    const clock = new FakeClock(T0);
    const runs: string[] = [];
    const run = async (id: string, slot: number) => {
      runs.push(`${id}@${new Date(slot).toISOString().slice(11, 16)}`);
      return { status: "ok" as const };
    };
    const first = make(clock, file, run);
    first.load([job("last"), job("none", { catchUp: "none" })]);
    clock.advance(30_000); // 10:01 runs
    await first.idle();
    first.stop();
    expect(runs).toEqual(["last@10:01", "none@10:01"]);
    clock.t += 5 * 60_000; // down over 10:02 .. 10:06
    const second = make(clock, file, run);
    second.load([job("last"), job("none", { catchUp: "none" })]);
    await second.idle();
    expect(runs.slice(2)).toEqual(["last@10:06"]);
    const st = new CronState(file);
    expect(st.get("last")!.history.find((r) => r.outcome === "missed")!.reason).toStartWith("4 slot(s)");
    expect(st.get("none")!.history.find((r) => r.outcome === "missed")!.reason).toStartWith("5 slot(s)");
    // A third start at once finds nothing new to run: no slot twice.
    const third = make(clock, file, run);
    third.load([job("last"), job("none", { catchUp: "none" })]);
    await third.idle();
    expect(runs).toHaveLength(3);
  });

  test("a process that slept past several slots records them missed and runs the latest", async () => {
    const clock = new FakeClock(T0);
    const runs: number[] = [];
    const s = make(clock, stateFile(), async (_id, slot) => {
      runs.push(slot);
      return { status: "ok" };
    });
    s.load([job("a")]);
    clock.t += 3 * 60_000; // suspended: the timer fires late
    clock.advance(0);
    await s.idle();
    expect(runs.map((r) => new Date(r).toISOString().slice(11, 16))).toEqual(["10:03"]);
  });

  test("max_concurrent_runs: extra runs wait and start as others end", async () => {
    const clock = new FakeClock(T0);
    let active = 0;
    let peak = 0;
    let done = 0;
    const releases: (() => void)[] = [];
    const s = make(
      clock,
      stateFile(),
      async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise<void>((r) => releases.push(r));
        active--;
        done++;
        return { status: "ok" };
      },
      2,
    );
    s.load([job("a"), job("b"), job("c"), job("d"), job("e")]);
    clock.advance(30_000); // 10:01:00: five runs due, two start
    expect(active).toBe(2);
    while (done < 5) {
      expect(releases.length).toBeGreaterThan(0);
      releases.shift()!();
      await Bun.sleep(1);
    }
    await s.idle();
    expect(peak).toBe(2);
  });

  test("overlap = queue: a slot that comes during a run waits and runs after it; skip records it", async () => {
    const file = stateFile();
    const clock = new FakeClock(T0);
    const starts: string[] = [];
    const releases: (() => void)[] = [];
    const s = make(clock, file, async (id, slot) => {
      starts.push(`${id}@${new Date(slot).toISOString().slice(14, 19)}`);
      await new Promise<void>((r) => releases.push(r));
      return { status: "ok" };
    });
    s.load([job("q", { overlap: "queue" }), job("k")]);
    clock.advance(30_000); // 10:01 both start
    clock.advance(60_000); // 10:02 q queues, k skips
    expect(starts).toEqual(["q@01:00", "k@01:00"]);
    releases.shift()!(); // q's first run ends
    await Bun.sleep(1);
    expect(starts).toEqual(["q@01:00", "k@01:00", "q@02:00"]);
    for (const r of releases.splice(0)) r();
    await s.idle();
    const k = new CronState(file).get("k")!.history;
    expect(k.find((r) => r.outcome === "skipped")).toMatchObject({ reason: "overlap" });
  });

  test("10,000 jobs: loaded fast, one timer, next-run lookups correct", () => {
    const clock = new FakeClock(T0);
    const s = make(clock, stateFile(), async () => ({ status: "ok" }));
    const jobs = Array.from({ length: 10_000 }, (_, i) =>
      job(`j${i}`, { schedule: i % 2 ? `${i % 60} * * * *` : `@every ${(i % 50) + 1}m` }),
    );
    const t = performance.now();
    expect(s.load(jobs)).toEqual([]);
    const ms = performance.now() - t;
    expect(clock.timers.size).toBe(1);
    expect(new Date(s.nextRun("j1")!).toISOString()).toBe("2026-06-01T10:01:00.000Z");
    expect(new Date(s.nextRun("j9999")!).toISOString()).toBe("2026-06-01T10:39:00.000Z");
    expect(new Date(s.nextRun("j4")!).toISOString()).toBe("2026-06-01T10:05:00.000Z");
    expect(ms).toBeLessThan(5000);
  });
});
