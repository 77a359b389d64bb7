/**
 * $CRABTALK_HOME/crons.toml: scheduled agent runs. Its own file so the daemon
 * and `crabtalk cron add` can rewrite it without touching crabtalk.toml.
 * Unlike crabtalk.toml, one bad entry does not refuse the file: it is reported
 * (file, entry id, reason, fix) and every other job still runs.
 */
import { readFileSync } from "node:fs";
import { isTable, type Table } from "./errors.ts";
import { editTableArrayFile, parseSideFile } from "./table-file.ts";

export interface CronJobSpec {
  id: string;
  /** 5 or 6 cron fields, @hourly/@daily/..., or "@every <n><s|m|h|d>". */
  schedule: string;
  /** IANA zone; empty: the machine's local zone. */
  timezone: string;
  agent: string;
  message: string;
  session: "continue" | "new";
  /** "HH:MM-HH:MM" local to `timezone`, or empty. */
  quietHours: string;
  overlap: "skip" | "queue";
  catchUp: "none" | "last";
  once: boolean;
  enabled: boolean;
}

export interface CronsFile {
  jobs: CronJobSpec[];
  /** One line per refused entry: file, id, reason, fix. */
  errors: string[];
  /** `max_concurrent_runs` at the top of the file (default 4). */
  maxConcurrentRuns: number;
}

const KEYS = new Set([
  "id",
  "schedule",
  "timezone",
  "agent",
  "message",
  "session",
  "quiet_hours",
  "overlap",
  "catch_up",
  "once",
  "enabled",
]);

export const DEFAULT_MAX_CONCURRENT_RUNS = 4;

/** Reads crons.toml; a missing file is no jobs. A file that is not TOML at all is one error and no jobs. */
export function readCronsFile(file: string, validate: (job: CronJobSpec) => string | null): CronsFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { jobs: [], errors: [], maxConcurrentRuns: DEFAULT_MAX_CONCURRENT_RUNS };
  }
  return parseCrons(text, file, validate);
}

export function parseCrons(text: string, file: string, validate: (job: CronJobSpec) => string | null): CronsFile {
  const out: CronsFile = { jobs: [], errors: [], maxConcurrentRuns: DEFAULT_MAX_CONCURRENT_RUNS };
  const parsed = parseSideFile(text, file);
  if ("error" in parsed) {
    out.errors.push(parsed.error);
    return out;
  }
  const doc = parsed.doc;
  const root = doc;
  const max = root.max_concurrent_runs;
  if (max !== undefined) {
    if (typeof max === "number" && Number.isInteger(max) && max >= 1) out.maxConcurrentRuns = max;
    else out.errors.push(`${file}: max_concurrent_runs must be a whole number >= 1, not ${String(max)}; using 4`);
  }
  const entries = root.cron ?? [];
  if (!Array.isArray(entries)) {
    out.errors.push(`${file}: "cron" must be an array of tables. Fix: write each job as [[cron]]`);
    return out;
  }
  const seen = new Set<string>();
  for (const [index, entry] of (entries as unknown[]).entries()) {
    const label = isTable(entry) && typeof entry.id === "string" ? `cron "${entry.id}"` : `cron entry #${index + 1}`;
    const refuse = (reason: string, fix: string): void => {
      out.errors.push(`${file}: ${label}: ${reason}. Fix: ${fix}; the other jobs run`);
    };
    if (!isTable(entry)) {
      refuse("not a table", "write it as [[cron]] with keys");
      continue;
    }
    const job = entryToSpec(entry);
    if (typeof job === "string") {
      refuse(job, "see the [[cron]] keys in the README");
      continue;
    }
    if (seen.has(job.id)) {
      refuse(`id "${job.id}" is used twice`, "give each job its own id");
      continue;
    }
    const problem = validate(job);
    if (problem) {
      refuse(problem, "correct the entry");
      continue;
    }
    seen.add(job.id);
    out.jobs.push(job);
  }
  return out;
}

function str(t: Table, key: string, def?: string): string | undefined {
  const v = t[key];
  if (v === undefined) return def;
  return typeof v === "string" ? v : undefined;
}

/** A [[cron]] table (TOML key names) as a job, or the reason it is not one. */
export function entryToSpec(t: Table): CronJobSpec | string {
  const unknown = Object.keys(t).filter((k) => !KEYS.has(k));
  if (unknown.length) return `unknown key(s) ${unknown.join(", ")}; use only ${[...KEYS].join(", ")}`;
  const id = str(t, "id");
  if (!id || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id))
    return "id must be 1-64 letters, digits, '.', '_' or '-' (it names the job in sources cron:<id>:done)";
  const schedule = str(t, "schedule");
  if (!schedule) return 'schedule is required (a string such as "0 7 * * 1-5" or "@every 15m")';
  const message = str(t, "message");
  if (!message?.trim()) return "message is required (the text or /skill to send)";
  const session = str(t, "session", "continue");
  if (session !== "continue" && session !== "new")
    return `session must be "continue" or "new", not ${String(t.session)}`;
  const overlap = str(t, "overlap", "skip");
  if (overlap !== "skip" && overlap !== "queue") return `overlap must be "skip" or "queue", not ${String(t.overlap)}`;
  const catchUp = str(t, "catch_up", "last");
  if (catchUp !== "none" && catchUp !== "last") return `catch_up must be "none" or "last", not ${String(t.catch_up)}`;
  for (const key of ["timezone", "agent", "quiet_hours"])
    if (t[key] !== undefined && typeof t[key] !== "string") return `${key} must be a string`;
  for (const key of ["once", "enabled"])
    if (t[key] !== undefined && typeof t[key] !== "boolean") return `${key} must be true or false`;
  return {
    id,
    schedule,
    timezone: str(t, "timezone", "") ?? "",
    agent: str(t, "agent", "crab") ?? "crab",
    message,
    session,
    quietHours: str(t, "quiet_hours", "") ?? "",
    overlap,
    catchUp,
    once: t.once === true,
    enabled: t.enabled !== false,
  };
}

/** A job as the table a user would write (defaults left out). */
export function specToEntry(j: CronJobSpec): Table {
  const t: Table = { id: j.id, schedule: j.schedule, agent: j.agent, message: j.message };
  if (j.timezone) t.timezone = j.timezone;
  if (j.session !== "continue") t.session = j.session;
  if (j.quietHours) t.quiet_hours = j.quietHours;
  if (j.overlap !== "skip") t.overlap = j.overlap;
  if (j.catchUp !== "last") t.catch_up = j.catchUp;
  if (j.once) t.once = true;
  if (!j.enabled) t.enabled = false;
  return t;
}

/**
 * Rewrites crons.toml's [[cron]] array through `edit`, atomically (temp file +
 * rename). Other entries, including ones the daemon refused, are kept as they
 * are; comments are not (the file is written from its parsed form).
 */
export function editCronsFile(file: string, edit: (entries: Table[]) => Table[]): void {
  editTableArrayFile(file, "cron", "crabtalk scheduled runs (rewritten by the daemon and `crabtalk cron`)", edit);
}
