/**
 * Wires the scheduler into the daemon: $CRABTALK_HOME/crons.toml is read at
 * start and on every reload (bad entries are logged with file, id and reason;
 * the others run), runs are turns through the runtime, their state lives in
 * cron-state.json, and a `once` job is removed from crons.toml after its run.
 */
import { join } from "node:path";
import { editCronsFile, readCronsFile, specToEntry, type CronJobSpec, type CronsFile } from "../config/crons.ts";
import type { Paths } from "../config/paths.ts";
import { runCronTurn } from "../cron/runner.ts";
import { compileSchedule } from "../cron/schedule.ts";
import { Scheduler, systemClock, type Clock } from "../cron/scheduler.ts";
import { CronState, type JobState, type SlotRecord } from "../cron/state.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import { logger } from "../util/log.ts";
import type { ReloadParticipant } from "./reload.ts";

const log = logger("cron");

/** A refused cron request; the handler maps the kind to a wire code. */
export class CronRequestError extends Error {
  constructor(
    readonly kind: "bad_request" | "conflict" | "not_found",
    message: string,
  ) {
    super(message);
  }
}

export interface CronEnd {
  job: CronJobSpec;
  record: SlotRecord;
  content: string;
}

export class CronService {
  readonly file: string;
  readonly scheduler: Scheduler;
  readonly state: CronState;
  private current: CronsFile = { jobs: [], errors: [], maxConcurrentRuns: 4 };
  private readonly lastContent = new Map<string, string>();
  /** Told of every finished run (the event bus publishes cron:<id>:done|failed). */
  onEnd: (end: CronEnd) => void = () => undefined;

  constructor(
    paths: Paths,
    private readonly runtime: SessionRuntime,
    clock: Clock = systemClock,
  ) {
    this.file = join(paths.home, "crons.toml");
    this.state = new CronState(join(paths.home, "cron-state.json"));
    this.scheduler = new Scheduler({
      clock,
      state: this.state,
      maxConcurrent: 4,
      run: async (job, _slot, session) => {
        const result = await runCronTurn(this.runtime, job, session);
        this.lastContent.set(job.id, result.content);
        return result;
      },
      onRunEnd: (job, record) => {
        const content = this.lastContent.get(job.id) ?? "";
        this.lastContent.delete(job.id);
        if (record.status === "failed") log.warn(`cron ${job.id}: run failed: ${record.error ?? "unknown error"}`);
        this.onEnd({ job, record, content });
      },
      onOnce: (job) => this.removeOnce(job.id),
    });
  }

  /** Reads crons.toml and makes it the job set; returns one line per change. */
  reconcile(): string[] {
    // Schedules are compiled once, by the scheduler (it reports the bad ones); here only the agent is checked.
    const next = readCronsFile(this.file, (job) => this.agentProblem(job));
    this.scheduler.maxConcurrent = next.maxConcurrentRuns;
    for (const e of this.scheduler.load(next.jobs)) next.errors.push(`${this.file}: ${e}; the other jobs run`);
    next.jobs = next.jobs.filter((j) => this.scheduler.has(j.id));
    for (const e of next.errors) log.error(e);
    const before = new Map(this.current.jobs.map((j) => [j.id, JSON.stringify(j)]));
    const changes: string[] = [];
    for (const j of next.jobs) {
      const was = before.get(j.id);
      if (was === undefined) changes.push(`cron ${j.id}: added`);
      else if (was !== JSON.stringify(j)) changes.push(`cron ${j.id}: changed`);
      before.delete(j.id);
    }
    for (const id of before.keys()) changes.push(`cron ${id}: removed`);
    this.current = next;
    return changes;
  }

  private agentProblem(job: CronJobSpec): string | null {
    return this.runtime.agent(job.agent) ? null : `agent "${job.agent}" is not configured in crabtalk.toml`;
  }

  private validate(job: CronJobSpec): string | null {
    const s = compileSchedule(job);
    return typeof s === "string" ? s : this.agentProblem(job);
  }

  jobs(): CronJobSpec[] {
    return this.current.jobs;
  }

  jobState(id: string): JobState | undefined {
    return this.state.get(id);
  }

  /** crons.toml entries refused at the last read (file, id, reason). */
  errors(): string[] {
    return this.current.errors;
  }

  /**
   * Creates (`create`: refused when the id exists) or replaces a job, written
   * atomically to crons.toml and applied at once. Throws CronRequestError.
   */
  set(job: CronJobSpec, create: boolean): string[] {
    const problem = this.validate(job);
    if (problem) throw new CronRequestError("bad_request", `cron "${job.id}": ${problem}`);
    const exists = this.current.jobs.some((j) => j.id === job.id);
    if (create && exists)
      throw new CronRequestError("conflict", `cron "${job.id}" exists; choose another id or update it`);
    if (!create && !exists)
      throw new CronRequestError("not_found", `no cron job "${job.id}"; create it first (crabtalk cron add)`);
    editCronsFile(this.file, (entries) => {
      const i = entries.findIndex((e) => e.id === job.id);
      if (i < 0) return [...entries, specToEntry(job)];
      return entries.map((e, k) => (k === i ? specToEntry(job) : e));
    });
    return this.reconcile();
  }

  remove(id: string): string[] {
    if (!this.current.jobs.some((j) => j.id === id))
      throw new CronRequestError("not_found", `no cron job "${id}"; see crabtalk cron for the ids`);
    editCronsFile(this.file, (entries) => entries.filter((e) => e.id !== id));
    return this.reconcile();
  }

  runNow(id: string): void {
    if (!this.scheduler.runNow(id))
      throw new CronRequestError("not_found", `no cron job "${id}"; see crabtalk cron for the ids`);
  }

  private removeOnce(id: string): void {
    try {
      editCronsFile(this.file, (entries) => entries.filter((e) => e.id !== id));
      this.current = { ...this.current, jobs: this.current.jobs.filter((j) => j.id !== id) };
      log.info(`cron ${id}: ran once; removed from ${this.file}`);
    } catch (err) {
      log.error(`cron ${id}: ran once but could not be removed from ${this.file}: ${(err as Error).message}`);
    }
  }

  participant(): ReloadParticipant {
    return { name: "cron", apply: async () => this.reconcile() };
  }

  stop(): void {
    this.scheduler.stop();
  }

  /** Writes what runs that ended during the shutdown grace recorded. */
  flush(): void {
    this.state.save();
  }
}

/** Starts the scheduler with the jobs in crons.toml. */
export function startCron(paths: Paths, runtime: SessionRuntime): CronService {
  const service = new CronService(paths, runtime);
  const changes = service.reconcile();
  if (changes.length) log.info(`${service.jobs().length} cron job(s) loaded from ${service.file}`);
  return service;
}
