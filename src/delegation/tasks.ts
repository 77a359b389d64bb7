/**
 * Delegated tasks: each is a turn of another agent on a new session of its
 * own (persisted like any session, sender `delegate:<parent session>`),
 * started by a `delegate` call and linked to the parent session, turn and
 * call. This keeps the live table of tasks (for `tasks`, `collect`, the
 * Tasks RPCs and KillTaskMsg) and runs each task to its answer.
 *
 * Scoping is decided here, whatever the model wrote: a target must be in
 * the delegator's `members`, exist, keep the chain within max_depth, and
 * not already be on the chain (a cycle). A task runs with its own agent's
 * grants, permissions and cwd; approvals go to the root turn's clients.
 */
import type { SessionRuntime } from "../session/runtime.ts";
import { isKind, type UsageData } from "../session/events.ts";
import { SessionError } from "../session/errors.ts";
import { addUsage, emptyUsage } from "../provider/types.ts";
import { logger } from "../util/log.ts";

const log = logger("tasks");

/** Finished tasks kept for `crabtalk tasks` and `collect`; older ones are forgotten (their sessions stay). */
const KEEP_FINISHED = 500;
/** A result preview in listings and task events. */
const PREVIEW_CHARS = 200;

export type TaskState = "running" | "done" | "failed" | "killed";

export interface Task {
  id: number;
  agent: string;
  message: string;
  /** The task's own session, once created. */
  session: number;
  parent: { session: number; turn: number; callId: string; agent: string };
  /** The session whose clients answer this task's approvals: the top of the chain. */
  root: number;
  depth: number;
  /** Agents from the root down to this task's agent. */
  chain: string[];
  state: TaskState;
  startedAt: number;
  endedAt?: number;
  result?: string;
  error?: string;
  usage: UsageData;
  done: Promise<Task>;
  /** Its usage was reported to the delegating turn (by delegate or collect): counted once. */
  charged?: boolean;
}

export type TaskChange = { kind: "created" | "status" | "completed"; task: Task };

export interface DelegationCall {
  /** The delegating agent and its session (ctx of the tool call). */
  agent: string;
  session: number;
  callId: string;
  signal: AbortSignal;
}

export class TaskManager {
  private readonly tasks = new Map<number, Task>();
  private readonly bySession = new Map<number, Task>();
  private readonly listeners = new Set<(change: TaskChange) => void>();
  private nextId = 1;

  constructor(private readonly runtime: SessionRuntime) {}

  list(): Task[] {
    return [...this.tasks.values()];
  }

  get(id: number): Task | undefined {
    return this.tasks.get(id);
  }

  /** Task state changes, for SubscribeTasks; returns the unsubscribe. */
  watch(listener: (change: TaskChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(kind: TaskChange["kind"], task: Task): void {
    for (const l of this.listeners) {
      try {
        l({ kind, task });
      } catch {
        // A watcher's failure is its own.
      }
    }
  }

  /** Why `target` may not be handed work from this call, or undefined when it may. */
  refusal(call: DelegationCall, target: string): string | undefined {
    const { settings } = this.runtime;
    const delegator = settings.agents.get(call.agent);
    const members = delegator?.members ?? [];
    if (!settings.agents.has(target))
      return `unknown agent "${target}"; agents: ${[...settings.agents.keys()].join(", ")}`;
    if (!members.includes("*") && !members.includes(target))
      return `agent ${target} is not in ${call.agent}'s members (${members.join(", ") || "none"})`;
    const parentTask = this.bySession.get(call.session);
    const depth = (parentTask?.depth ?? 0) + 1;
    if (depth > settings.delegation.maxDepth)
      return `delegating to ${target} would make the chain ${depth} deep, past max_depth ${settings.delegation.maxDepth} ([delegation] in crabtalk.toml)`;
    const chain = parentTask?.chain ?? [call.agent];
    if (chain.includes(target)) return `agent ${target} is already on this chain (${chain.join(" -> ")}): a cycle`;
    return undefined;
  }

  /**
   * Starts a task (after `refusal` said yes): the turn is queued on a new
   * session of `target` at once; `done` settles with its answer or error.
   * `tokenCap` is what the root's turn budget has left for it.
   */
  async start(call: DelegationCall, target: string, message: string, tokenCap?: number): Promise<Task> {
    const parentTask = this.bySession.get(call.session);
    const root = parentTask?.root ?? call.session;
    const id = this.nextId++;
    const { session, events } = await this.runtime.startTurn({
      agent: target,
      content: message,
      sender: `delegate:${call.session}`,
      approver: { kind: "session", session: root },
      ...(tokenCap !== undefined ? { tokenCap } : {}),
    });
    let resolveDone!: (t: Task) => void;
    const task: Task = {
      id,
      agent: target,
      message,
      session: session.id,
      parent: {
        session: call.session,
        turn: this.runtime.runningTurnOf(call.session),
        callId: call.callId,
        agent: call.agent,
      },
      root,
      depth: (parentTask?.depth ?? 0) + 1,
      chain: [...(parentTask?.chain ?? [call.agent]), target],
      state: "running",
      startedAt: Date.now(),
      usage: emptyUsage(),
      done: new Promise<Task>((resolve) => {
        resolveDone = resolve;
      }),
    };
    this.tasks.set(id, task);
    this.bySession.set(session.id, task);
    this.changed("created", task);
    log.info(`task ${id}: ${call.agent} (session ${call.session}) -> ${target} (session ${session.id})`);
    void (async () => {
      let text = "";
      try {
        for await (const e of events) {
          if (isKind(e, "chunk")) text += e.body.data.content;
          if (isKind(e, "toolStart")) text = "";
          if (isKind(e, "modelEnd")) task.usage = addUsage(task.usage, e.body.data.usage);
          if (!isKind(e, "end")) continue;
          const end = e.body.data;
          if (end.tasksUsage) task.usage = addUsage(task.usage, end.tasksUsage);
          if (task.state === "killed") task.error ??= `task ${id} was killed`;
          else if (end.stopReason === "error") this.fail(task, end.error || "the task failed");
          else if (end.stopReason === "aborted") this.fail(task, "the task was cancelled");
          else {
            task.state = "done";
            task.result = text;
          }
          break;
        }
      } catch (err) {
        this.fail(task, err instanceof SessionError ? err.message : String(err));
      }
      if (task.state === "running") this.fail(task, "the task ended without a result");
      task.endedAt = Date.now();
      this.changed("completed", task);
      this.forgetOld();
      resolveDone(task);
    })();
    return task;
  }

  private fail(task: Task, error: string): void {
    if (task.state === "killed") return;
    task.state = "failed";
    task.error = error;
  }

  /** Cancels a running task (KillTaskMsg, a cancelled parent): its turn is aborted, its session kept. */
  kill(id: number, why = "killed"): boolean {
    const task = this.tasks.get(id);
    if (task?.state !== "running") return false;
    task.state = "killed";
    task.error = `task ${id} was ${why}`;
    this.changed("status", task);
    // Tasks it delegated go with it.
    for (const child of this.tasks.values())
      if (child.parent.session === task.session && child.state === "running") this.kill(child.id, why);
    this.runtime.cancel(task.session);
    return true;
  }

  /** Cancels every running task started from `session` (its turn was cancelled or ended early). */
  killChildrenOf(session: number, why: string): void {
    for (const t of this.tasks.values())
      if (t.parent.session === session && t.state === "running") this.kill(t.id, why);
  }

  preview(task: Task): string {
    const text = task.result ?? task.error ?? "";
    return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  }

  private forgetOld(): void {
    const finished = [...this.tasks.values()].filter((t) => t.state !== "running");
    for (const t of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) {
      this.tasks.delete(t.id);
      this.bySession.delete(t.session);
    }
  }
}
