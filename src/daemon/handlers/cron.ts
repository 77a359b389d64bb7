/**
 * The cron requests of the client protocol: list (with last and next run,
 * optionally history), create/update, delete and run now. Translation only:
 * the work is daemon/cron.ts's (CronService).
 */
import { entryToSpec } from "../../config/crons.ts";
import type { SlotRecord } from "../../cron/state.ts";
import type { CronJob, CronRunRecord } from "../../protocol/gen/crabtalk.ts";
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import { CronRequestError, type CronService } from "../cron.ts";
import type { HandlerTable } from "../router.ts";

const CODES = { bad_request: ErrorCode.BadRequest, conflict: ErrorCode.Conflict, not_found: ErrorCode.NotFound };

function translated<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof CronRequestError) throw new WireError(CODES[err.kind], err.message);
    throw err;
  }
}

function record(r: SlotRecord): CronRunRecord {
  return {
    slotMs: r.slot,
    outcome: r.outcome,
    reason: r.reason ?? "",
    status: r.status ?? "",
    session: r.session ?? 0,
    tokens: r.tokens ?? 0,
    error: r.error ?? "",
    startedMs: r.startedAt ?? 0,
    endedMs: r.endedAt ?? 0,
  };
}

/** The wire job as the [[cron]] table a user would write, so one parser validates both. */
function entryOf(j: CronJob): Record<string, unknown> {
  const t: Record<string, unknown> = { id: j.id, schedule: j.schedule, message: j.message };
  if (j.agent) t.agent = j.agent;
  if (j.timezone) t.timezone = j.timezone;
  if (j.session) t.session = j.session;
  if (j.quietHours) t.quiet_hours = j.quietHours;
  if (j.overlap) t.overlap = j.overlap;
  if (j.catchUp) t.catch_up = j.catchUp;
  if (j.once) t.once = true;
  if (j.enabled === false) t.enabled = false;
  return t;
}

export function cronHandlers(cron: CronService): HandlerTable {
  return {
    cronList: (req) => {
      const jobs = cron.jobs().filter((j) => !req.id || j.id === req.id);
      if (req.id && jobs.length === 0)
        throw new WireError(ErrorCode.NotFound, `no cron job "${req.id}"; see crabtalk cron for the ids`);
      return {
        cronList: {
          errors: cron.errors(),
          jobs: jobs.map((j) => {
            const st = cron.jobState(j.id);
            return {
              job: {
                id: j.id,
                schedule: j.schedule,
                timezone: j.timezone,
                agent: j.agent,
                message: j.message,
                session: j.session,
                quietHours: j.quietHours,
                overlap: j.overlap,
                catchUp: j.catchUp,
                once: j.once,
                enabled: j.enabled,
              },
              ...(st?.next != null ? { nextRunMs: st.next } : {}),
              ...(st?.lastRun ? { lastRun: record(st.lastRun) } : {}),
              lastError: st?.lastError ?? "",
              history: req.history ? (st?.history ?? []).map(record) : [],
              session: st?.session ?? 0,
            };
          }),
        },
      };
    },
    cronSet: (req) =>
      translated(() => {
        if (!req.job) throw new WireError(ErrorCode.BadRequest, "cronSet needs a job");
        const spec = entryToSpec(entryOf(req.job));
        if (typeof spec === "string") throw new WireError(ErrorCode.BadRequest, `cron "${req.job.id}": ${spec}`);
        cron.set(spec, req.create);
        return { ack: { message: `cron ${spec.id}: ${req.create ? "created" : "updated"}` } };
      }),
    cronDelete: (req) =>
      translated(() => {
        cron.remove(req.id);
        return { ack: { message: `cron ${req.id}: deleted` } };
      }),
    cronRun: (req) =>
      translated(() => {
        cron.runNow(req.id);
        return { ack: { message: `cron ${req.id}: run started` } };
      }),
  };
}
