/**
 * `crabtalk cron [--json]`: the scheduled jobs with their last and next run.
 * `cron add --id ID --schedule "..." --agent A --message "..." [...]`,
 * `cron rm ID`, `cron run ID` (now, outside the schedule) and
 * `cron history ID [--json]` (each slot: ran, skipped or missed, and why).
 * The daemon writes crons.toml atomically; a refused job says why.
 */
import { defineCommand } from "citty";
import type { CronJobInfo, CronRunRecord } from "../protocol/gen/crabtalk.ts";
import { visibleControls as sanitize } from "./render/sanitize.ts";
import { connectionArgs, printJson, withClient } from "./shared.ts";

const when = (ms: number | undefined) => (ms ? new Date(Number(ms)).toISOString().replace(".000Z", "Z") : "-");

function recordLine(r: CronRunRecord): string {
  const detail =
    r.outcome === "ran"
      ? `${r.status}${Number(r.session) ? ` session ${r.session}` : ""}${Number(r.tokens) ? ` ${r.tokens} tokens` : ""}${r.error ? `: ${r.error}` : ""}`
      : r.reason;
  return `${when(Number(r.slotMs))}  ${r.outcome.padEnd(7)}  ${sanitize(detail)}`;
}

function printJob(info: CronJobInfo): void {
  const j = info.job!;
  const flags = [
    j.enabled === false ? "disabled" : "",
    j.once ? "once" : "",
    j.quietHours ? `quiet ${j.quietHours}` : "",
  ]
    .filter(Boolean)
    .join(", ");
  process.stdout.write(
    `${sanitize(j.id)}  ${sanitize(j.schedule)}${j.timezone ? ` (${sanitize(j.timezone)})` : ""}  -> ${sanitize(j.agent)}${flags ? `  [${flags}]` : ""}\n`,
  );
  process.stdout.write(`  next  ${when(info.nextRunMs)}\n`);
  if (info.lastRun) process.stdout.write(`  last  ${recordLine(info.lastRun)}\n`);
  if (info.lastError) process.stdout.write(`  last error  ${sanitize(info.lastError)}\n`);
}

const listCommand = defineCommand({
  meta: { name: "list", description: "List the cron jobs with their last and next run (the default)." },
  args: { ...connectionArgs, json: { type: "boolean", description: "Print JSON instead of text" } },
  async run({ args }) {
    await withClient(args, async (client) => {
      const list = (await client.request({ cronList: { id: "", history: false } })).cronList;
      if (args.json) return printJson({ jobs: list?.jobs ?? [], errors: list?.errors ?? [] });
      for (const e of list?.errors ?? []) process.stdout.write(`refused: ${sanitize(e)}\n`);
      if (!list?.jobs.length) {
        process.stdout.write("no cron jobs (add one with `crabtalk cron add` or [[cron]] in crons.toml)\n");
        return;
      }
      for (const info of list.jobs) printJob(info);
    });
  },
});

const addCommand = defineCommand({
  meta: { name: "add", description: "Add a job (written to crons.toml); --replace updates an existing one." },
  args: {
    ...connectionArgs,
    id: { type: "string", required: true, description: "The job's id (names it in cron:<id>:done)" },
    schedule: { type: "string", required: true, description: 'Cron (5 or 6 fields), @daily..., or "@every 15m"' },
    agent: { type: "string", default: "crab", description: "The agent that runs it" },
    message: { type: "string", required: true, description: "The message or /skill to send" },
    timezone: { type: "string", description: "IANA zone (default: the machine's)" },
    session: { type: "string", description: "continue (default) | new" },
    "quiet-hours": { type: "string", description: '"HH:MM-HH:MM" in the job\'s zone: runs inside are skipped' },
    overlap: { type: "string", description: "skip (default) | queue, when the previous run still goes" },
    "catch-up": { type: "string", description: "last (default) | none, after downtime" },
    once: { type: "boolean", description: "Run once, then remove the job" },
    disabled: { type: "boolean", description: "Add it disabled (its slots are recorded as skipped)" },
    replace: { type: "boolean", description: "Update the job with this id instead of refusing" },
  },
  async run({ args }) {
    await withClient(args, async (client) => {
      const reply = await client.request({
        cronSet: {
          create: args.replace !== true,
          job: {
            id: args.id,
            schedule: args.schedule,
            agent: args.agent,
            message: args.message,
            timezone: args.timezone ?? "",
            session: args.session ?? "",
            quietHours: args["quiet-hours"] ?? "",
            overlap: args.overlap ?? "",
            catchUp: args["catch-up"] ?? "",
            once: args.once === true,
            enabled: args.disabled !== true,
          },
        },
      });
      process.stdout.write(`${reply.ack?.message ?? "ok"}\n`);
    });
  },
});

const idArg = { type: "positional", required: true, description: "The job's id", valueHint: "ID" } as const;

const rmCommand = defineCommand({
  meta: { name: "rm", description: "Remove a job from crons.toml." },
  args: { ...connectionArgs, id: idArg },
  async run({ args }) {
    await withClient(args, async (client) => {
      process.stdout.write(`${(await client.request({ cronDelete: { id: args.id } })).ack?.message ?? "ok"}\n`);
    });
  },
});

const runCommand = defineCommand({
  meta: { name: "run", description: "Run a job now, outside its schedule (the schedule is unchanged)." },
  args: { ...connectionArgs, id: idArg },
  async run({ args }) {
    await withClient(args, async (client) => {
      process.stdout.write(`${(await client.request({ cronRun: { id: args.id } })).ack?.message ?? "ok"}\n`);
    });
  },
});

const historyCommand = defineCommand({
  meta: { name: "history", description: "Each recent slot of a job: ran (ok/failed), skipped or missed, and why." },
  args: { ...connectionArgs, id: idArg, json: { type: "boolean", description: "Print JSON instead of text" } },
  async run({ args }) {
    await withClient(args, async (client) => {
      const info = (await client.request({ cronList: { id: args.id, history: true } })).cronList?.jobs[0];
      if (args.json) return printJson(info?.history ?? []);
      for (const r of info?.history ?? []) process.stdout.write(`${recordLine(r)}\n`);
    });
  },
});

export const cronCommand = defineCommand({
  meta: {
    name: "cron",
    description: "Scheduled agent runs ($CRABTALK_HOME/crons.toml): list; add, rm, run ID, history ID.",
  },
  default: "list",
  subCommands: { list: listCommand, add: addCommand, rm: rmCommand, run: runCommand, history: historyCommand },
});
