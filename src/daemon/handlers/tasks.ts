/**
 * The Tasks RPCs of the original contract: Tasks (the table), KillTaskMsg
 * (cancel one: its delegator gets its error as the result) and
 * SubscribeTasks (created, status changes, completions, live).
 */
import type { Task, TaskChange, TaskManager } from "../../delegation/tasks.ts";
import type { Init } from "../../protocol/codec.ts";
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import type { TaskEvent, TaskInfo } from "../../protocol/gen/crabtalk.ts";
import type { HandlerTable, Reply } from "../router.ts";

/** Task events waiting for one subscriber before it is dropped: it is not reading. */
const SUBSCRIBER_BUFFER = 1024;

function info(manager: TaskManager, t: Task): Init<TaskInfo> {
  const now = Date.now();
  return {
    id: t.id,
    agent: t.agent,
    status: t.state,
    description: t.message.length > 200 ? `${t.message.slice(0, 200)}…` : t.message,
    ...(t.result !== undefined ? { result: manager.preview(t) } : {}),
    ...(t.error !== undefined ? { error: t.error } : {}),
    createdBy: `delegate:${t.parent.session}`,
    promptTokens: t.usage.promptTokens,
    completionTokens: t.usage.completionTokens,
    aliveSecs: Math.floor(((t.endedAt ?? now) - t.startedAt) / 1000),
    session: t.session,
    parentSession: t.parent.session,
    parentCallId: t.parent.callId,
    startedMs: t.startedAt,
    durationMs: (t.endedAt ?? now) - t.startedAt,
    depth: t.depth,
  };
}

function event(manager: TaskManager, change: TaskChange): Init<TaskEvent> {
  const t = change.task;
  switch (change.kind) {
    case "created":
      return { created: { task: info(manager, t) } };
    case "status":
      return { statusChanged: { taskId: t.id, status: t.state } };
    case "completed":
      return {
        completed: {
          taskId: t.id,
          status: t.state,
          ...(t.result !== undefined ? { result: manager.preview(t) } : {}),
          ...(t.error !== undefined ? { error: t.error } : {}),
        },
      };
  }
}

export function taskHandlers(manager: TaskManager): HandlerTable {
  return {
    tasks: () => ({ tasks: { tasks: manager.list().map((t) => info(manager, t)) } }),
    killTask: (req) => {
      const t = manager.get(req.taskId);
      if (!t) throw new WireError(ErrorCode.NotFound, `no task ${req.taskId}; list them with \`crabtalk tasks\``);
      if (!manager.kill(req.taskId))
        throw new WireError(ErrorCode.Conflict, `task ${req.taskId} is not running (${t.state})`);
      return { ack: { message: `task ${req.taskId} killed; its delegator gets the error as its result` } };
    },
    subscribeTasks: (_req, ctx) => {
      const queue: Init<TaskEvent>[] = [];
      let wake: (() => void) | null = null;
      let overflow = false;
      const stop = manager.watch((change) => {
        if (queue.length >= SUBSCRIBER_BUFFER) overflow = true;
        else queue.push(event(manager, change));
        wake?.();
      });
      const onAbort = () => wake?.();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      return (async function* (): AsyncGenerator<Reply> {
        try {
          while (!ctx.signal.aborted) {
            const next = queue.shift();
            if (next) {
              yield { task: next };
              continue;
            }
            if (overflow)
              throw new WireError(
                ErrorCode.SlowClient,
                "task events were not read in time; subscribe again and list tasks",
              );
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = null;
          }
        } finally {
          stop();
          ctx.signal.removeEventListener("abort", onAbort);
        }
      })();
    },
  };
}
