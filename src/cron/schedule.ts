/**
 * A job's schedule as a function of time: the next slot after an instant, and
 * whether an instant falls in its quiet hours. Cron expressions (5 or 6 fields,
 * @hourly/@daily/...) are parsed by croner, which handles time zones and DST;
 * "@every <n>s|m|h|d" is a fixed interval aligned to the Unix epoch, so its
 * slots are the same across restarts.
 */
import { Cron } from "croner";
import type { CronJobSpec } from "../config/crons.ts";

export interface Schedule {
  /** The first slot strictly after `afterMs` (epoch ms), or null when there is none (a date in the past). */
  next(afterMs: number): number | null;
  /** True when `atMs` falls inside the job's quiet hours. */
  quiet(atMs: number): boolean;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Compiles a job's schedule; a string is the reason it cannot be. */
export function compileSchedule(job: Pick<CronJobSpec, "schedule" | "timezone" | "quietHours">): Schedule | string {
  if (job.timezone && !validZone(job.timezone))
    return `timezone "${job.timezone}" is not an IANA zone (e.g. "Europe/Berlin", "America/New_York", "UTC")`;
  const quiet = quietWindow(job.quietHours, job.timezone);
  if (typeof quiet === "string") return quiet;
  const every = /^@every\s+(\d+)\s*([smhd])$/.exec(job.schedule.trim());
  if (every) {
    const interval = Number(every[1]) * UNITS[every[2]!]!;
    if (interval < 1000) return `"@every ${every[1]}${every[2]}" is shorter than a second`;
    return { next: (after) => Math.floor(after / interval) * interval + interval, quiet };
  }
  if (job.schedule.trim().startsWith("@every"))
    return `"${job.schedule}" is not "@every <number><s|m|h|d>" (e.g. "@every 15m")`;
  const first = sharedCron(job.schedule, job.timezone);
  if (typeof first === "string") return `schedule "${job.schedule}" is not a cron expression: ${first}`;
  return lazySchedule(job.schedule, job.timezone, quiet);
}

/**
 * The parsed form is looked up per call, not held: a parsed Cron is ~80 KB,
 * too much to keep for each of 10,000 jobs. (A function of its own, so the
 * closure's scope holds two strings and the quiet predicate, nothing parsed.)
 */
function lazySchedule(schedule: string, timezone: string, quiet: (ms: number) => boolean): Schedule {
  return { next: (after) => (sharedCron(schedule, timezone) as SharedCron).next(after), quiet };
}

/** A parsed Cron with its last answer remembered: jobs sharing it ask the same question at load and at a shared slot. */
class SharedCron {
  private lastAfter = Number.NaN;
  private lastNext: number | null = null;
  constructor(private readonly cron: Cron) {}

  next(after: number): number | null {
    if (after !== this.lastAfter) {
      const d = this.cron.nextRun(new Date(after));
      this.lastAfter = after;
      this.lastNext = d ? d.getTime() : null;
    }
    return this.lastNext;
  }
}

/**
 * Parsed expressions, most recently used last, at most CACHE_MAX (a parsed
 * Cron holds ~80 KB of lookup tables in croner 10): jobs with
 * the same expression and zone share one, and a daemon with 10,000 distinct
 * schedules parses one again (microseconds) only when it comes due.
 */
const crons = new Map<string, SharedCron | string>();
const CACHE_MAX = 32;

function sharedCron(pattern: string, zone: string): SharedCron | string {
  const key = `${zone}\u0000${pattern}`;
  let c = crons.get(key);
  if (c === undefined) {
    try {
      c = new SharedCron(new Cron(pattern, { paused: true, ...(zone ? { timezone: zone } : {}) }));
    } catch (err) {
      c = (err as Error).message;
    }
    if (crons.size >= CACHE_MAX) crons.delete(crons.keys().next().value as string);
  } else crons.delete(key);
  crons.set(key, c);
  return c;
}

const zones = new Map<string, boolean>();

function validZone(zone: string): boolean {
  let ok = zones.get(zone);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat("en-GB", { timeZone: zone });
      ok = true;
    } catch {
      ok = false;
    }
    zones.set(zone, ok);
  }
  return ok;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes since local midnight of `ms` in `zone` ("" = the machine's zone). */
export function localMinutes(ms: number, zone: string): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      ...(zone ? { timeZone: zone } : {}),
    });
    formatters.set(zone, f);
  }
  let h = 0;
  let m = 0;
  for (const p of f.formatToParts(new Date(ms))) {
    if (p.type === "hour") h = Number(p.value);
    if (p.type === "minute") m = Number(p.value);
  }
  return h * 60 + m;
}

/** "22:00-07:00" -> a predicate; the window may wrap midnight; start inclusive, end exclusive. */
function quietWindow(text: string, zone: string): ((ms: number) => boolean) | string {
  if (!text) return () => false;
  const m = /^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/.exec(text.trim());
  const bad = `quiet_hours "${text}" is not "HH:MM-HH:MM" (e.g. "22:00-07:00")`;
  if (!m) return bad;
  const [sh, sm, eh, em] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  if (sh > 23 || eh > 24 || sm > 59 || em > 59) return bad;
  const start = sh * 60 + sm;
  const end = eh * 60 + em;
  if (start === end) return () => false;
  return (ms) => {
    const t = localMinutes(ms, zone);
    return start < end ? t >= start && t < end : t >= start || t < end;
  };
}
