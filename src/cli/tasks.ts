/**
 * `crabtalk tasks [--json]`: delegated tasks (id, agent, parent session,
 * state, age, tokens, result preview); `crabtalk tasks kill ID` cancels one
 * (its delegator gets the error as the task's result).
 */
import { defineCommand } from "citty";
import { visibleControls } from "./render/sanitize.ts";
import { CliFailure, EXIT_USAGE, connectionArgs, printJson, withClient } from "./shared.ts";
import { formatDuration } from "./status.ts";

const killCommand = defineCommand({
  meta: {
    name: "kill",
    description: "Cancel a running task; its delegating agent reads the error as the task's result.",
  },
  args: { ...connectionArgs, id: { type: "positional", required: true, description: "The task id", valueHint: "ID" } },
  async run({ args }) {
    const id = Number(args.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new CliFailure(`expected a task id, got "${args.id}"`, EXIT_USAGE);
    await withClient(args, async (client) => {
      process.stdout.write(`${(await client.request({ killTask: { taskId: id } })).ack!.message}\n`);
    });
  },
});

export const tasksCommand = defineCommand({
  meta: {
    name: "tasks",
    description:
      "List delegated tasks: id, agent, the session that delegated it, state, age, tokens and a result preview. Subcommand: kill ID.",
  },
  args: { ...connectionArgs, json: { type: "boolean", description: "Print the task list as JSON" } },
  subCommands: { kill: killCommand },
  async run({ args, rawArgs }) {
    if (rawArgs.includes("kill")) return;
    await withClient(args, async (client) => {
      const tasks = (await client.request({ tasks: {} })).tasks!.tasks;
      if (args.json) return printJson(tasks);
      if (tasks.length === 0) return void process.stdout.write("no tasks\n");
      for (const t of tasks) {
        const tokens = t.promptTokens + t.completionTokens;
        const what = visibleControls((t.result ?? t.error ?? t.description).replace(/\s+/g, " ").slice(0, 80));
        process.stdout.write(
          `${String(t.id).padStart(4)}  ${t.agent.padEnd(12)} ${t.status.padEnd(8)} session ${t.session} <- ${t.parentSession}  ${formatDuration(Number(t.durationMs))}  ${tokens} tok  ${what}\n`,
        );
      }
    });
  },
});
