/**
 * The delegation tools, registered as source "delegation" and offered to
 * agents that have `members`:
 *   delegate{tasks: [{agent, message}], background?}  foreground: waits and
 *     returns [{agent, session, result, error, usage}] in task order;
 *     background: returns the task ids at once;
 *   tasks{ids?}                    status and results so far;
 *   collect{ids, timeout_s?}       waits for background tasks.
 * Tasks run in parallel, at most max_parallel at once per call. What the
 * tasks spent is reported in `details.spentUsage`, so the delegating turn
 * counts it against its budget and reports it in its StreamEnd.
 */
import type { Tool, ToolContext, ToolOutput } from "../agent/types.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import { Semaphore } from "../util/semaphore.ts";
import { addUsage, emptyUsage } from "../provider/types.ts";
import type { Task, TaskManager } from "./tasks.ts";

/** How long `collect` waits by default; the model can ask for up to the cap. */
const DEFAULT_COLLECT_S = 300;
const MAX_COLLECT_S = 3600;
/** Tasks one delegate call may ask for: a batch, not a flood. */
const MAX_TASKS_PER_CALL = 32;

function summary(t: Task) {
  return {
    id: t.id,
    agent: t.agent,
    session: t.session,
    state: t.state,
    ...(t.result !== undefined ? { result: t.result } : {}),
    ...(t.error !== undefined ? { error: t.error } : {}),
    usage: { prompt: t.usage.promptTokens, completion: t.usage.completionTokens },
  };
}

const json = (value: unknown): string => JSON.stringify(value, null, 2);

/** What finished tasks spent and was not yet reported to the delegating turn; marks them reported. */
function spent(tasks: readonly Task[]) {
  const fresh = tasks.filter((t) => t.state !== "running" && !t.charged);
  for (const t of fresh) t.charged = true;
  return fresh.reduce((u, t) => addUsage(u, t.usage), emptyUsage());
}

export function delegationTools(runtime: SessionRuntime, manager: TaskManager): Tool[] {
  const delegate: Tool = {
    name: "delegate",
    description:
      "Hand work to other agents (your members), each as its own task running in parallel with its own tools. Foreground (default) waits and returns each task's final answer in task order; background: true returns task ids at once (gather them with `tasks` and `collect`).",
    parameters: {
      type: "object",
      properties: {
        tasks: {
          type: "array",
          minItems: 1,
          maxItems: MAX_TASKS_PER_CALL,
          items: {
            type: "object",
            properties: {
              agent: { type: "string", description: "The agent to hand this task to" },
              message: { type: "string", description: "What it should do: a complete, self-contained request" },
            },
            required: ["agent", "message"],
            additionalProperties: false,
          },
        },
        background: { type: "boolean", description: "Return task ids at once instead of waiting" },
      },
      required: ["tasks"],
      additionalProperties: false,
    },
    async execute(args, ctx: ToolContext): Promise<ToolOutput> {
      const wanted = args.tasks as { agent: string; message: string }[];
      const call = { agent: ctx.agent, session: ctx.session, callId: ctx.callId, signal: ctx.signal };
      const refusals = wanted.map((t) => manager.refusal(call, t.agent));
      if (refusals.some((r) => r !== undefined)) {
        const lines = refusals
          .map((r, i) => (r ? `task ${i + 1} (${wanted[i]!.agent}): ${r}` : undefined))
          .filter(Boolean);
        return { output: `not delegated:\n${lines.join("\n")}`, isError: true };
      }
      const slots = new Semaphore(runtime.settings.delegation.maxParallel);
      // A task may spend at most what its delegator may spend in a turn; the delegator's own budget check
      // then counts what its tasks spent (details.spentUsage), so the tree stays within the root's cap.
      const cap = runtime.settings.agents.get(ctx.agent)?.maxTokensPerTurn;
      const started: Task[] = [];
      const onAbort = () => {
        for (const t of started) manager.kill(t.id, "cancelled with its delegating turn");
      };
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      try {
        if (args.background === true) {
          for (const t of wanted) started.push(await manager.start(call, t.agent, t.message, cap));
          ctx.signal.removeEventListener("abort", onAbort);
          return {
            output: json({ started: started.map((t) => ({ id: t.id, agent: t.agent, session: t.session })) }),
            details: { tasks: started.map((t) => ({ id: t.id, session: t.session, parentCall: ctx.callId })) },
          };
        }
        const finished = await Promise.all(
          wanted.map(async (t) => {
            const release = await slots.acquire(ctx.signal);
            try {
              const task = await manager.start(call, t.agent, t.message, cap);
              started.push(task);
              return await task.done;
            } finally {
              release();
            }
          }),
        );
        const results = finished.map((t) => ({
          agent: t.agent,
          session: t.session,
          result: t.result ?? "",
          error: t.error ?? "",
          usage: { prompt: t.usage.promptTokens, completion: t.usage.completionTokens },
        }));
        return {
          output: json(results),
          isError: finished.every((t) => t.state !== "done"),
          details: {
            tasks: finished.map((t) => ({ id: t.id, session: t.session, agent: t.agent, state: t.state })),
            spentUsage: spent(finished),
          },
        };
      } catch (err) {
        if (ctx.signal.aborted) return { output: "cancelled", isError: true };
        throw err;
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },
  };

  const ownTasks = (ctx: ToolContext, ids: number[] | undefined): Task[] =>
    manager.list().filter((t) => t.parent.session === ctx.session && (ids === undefined || ids.includes(t.id)));

  const tasks: Tool = {
    name: "tasks",
    description: "Status and results so far of the tasks you delegated in this session (all, or the given ids).",
    parameters: {
      type: "object",
      properties: { ids: { type: "array", items: { type: "integer" } } },
      additionalProperties: false,
    },
    async execute(args, ctx) {
      return { output: json(ownTasks(ctx, args.ids as number[] | undefined).map(summary)) };
    },
  };

  const collect: Tool = {
    name: "collect",
    description: "Wait for background tasks to finish (up to timeout_s, default 300) and return their results.",
    parameters: {
      type: "object",
      properties: {
        ids: { type: "array", items: { type: "integer" }, minItems: 1 },
        timeout_s: { type: "number", minimum: 1, maximum: MAX_COLLECT_S },
      },
      required: ["ids"],
      additionalProperties: false,
    },
    async execute(args, ctx) {
      const ids = args.ids as number[];
      const mine = ownTasks(ctx, ids);
      const missing = ids.filter((id) => !mine.some((t) => t.id === id));
      if (missing.length > 0) return { output: `no task of yours has id ${missing.join(", ")}`, isError: true };
      const timeoutMs = ((args.timeout_s as number | undefined) ?? DEFAULT_COLLECT_S) * 1000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      });
      const aborted = new Promise<"aborted">((resolve) =>
        ctx.signal.addEventListener("abort", () => resolve("aborted"), { once: true }),
      );
      const outcome = await Promise.race([Promise.all(mine.map((t) => t.done)), timedOut, aborted]);
      clearTimeout(timer);
      if (outcome === "aborted") return { output: "cancelled", isError: true };
      const now = ownTasks(ctx, ids);
      return {
        output: json({ ...(outcome === "timeout" ? { timedOut: true } : {}), tasks: now.map(summary) }),
        details: { spentUsage: spent(now) },
      };
    },
  };

  return [delegate, tasks, collect];
}
