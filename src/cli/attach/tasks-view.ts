/**
 * What attach shows of delegated work: while a turn of the watched session
 * runs, one live line per task it delegated (agent, tool calls so far,
 * elapsed), from the daemon's task events (SubscribeTasks) and the tasks'
 * own tool calls (SubscribeEvents). Lines go when their task ends; the
 * answer comes back in the delegate call's result as usual.
 */
import type { CrabtalkClient } from "../../client/client.ts";
import type { TurnRenderer } from "../render/turn.ts";

export class TasksView {
  /** Task session -> task id, for tasks of the watched session. */
  private readonly bySession = new Map<number, { id: number; agent: string; tools: number; startedAt: number }>();
  private stopped = false;

  constructor(
    private readonly client: CrabtalkClient,
    private readonly renderer: TurnRenderer,
    private readonly session: () => number | null,
  ) {}

  start(): void {
    void this.followTasks().catch(() => undefined);
    void this.followToolCalls().catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
  }

  private async followTasks(): Promise<void> {
    for await (const reply of this.client.stream({ subscribeTasks: {} })) {
      if (this.stopped) return;
      const ev = reply.task;
      const created = ev?.created?.task;
      if (created && Number(created.parentSession) === this.session()) {
        const task = {
          id: Number(created.id),
          agent: created.agent,
          tools: 0,
          startedAt: Number(created.startedMs) || Date.now(),
        };
        this.bySession.set(Number(created.session), task);
        this.renderer.setTask(task.id, task);
      }
      const done = ev?.completed ?? (ev?.statusChanged?.status === "killed" ? ev.statusChanged : undefined);
      if (done) {
        for (const [s, t] of this.bySession) {
          if (t.id !== Number(done.taskId)) continue;
          this.bySession.delete(s);
          this.renderer.removeTask(t.id);
        }
      }
    }
  }

  private async followToolCalls(): Promise<void> {
    for await (const reply of this.client.stream({ subscribeEvents: {} })) {
      if (this.stopped) return;
      const e = reply.event;
      if (e?.kind !== "tool_start") continue;
      const task = this.bySession.get(Number(e.session));
      if (!task) continue;
      task.tools += e.payload?.toolStart?.calls.length ?? 0;
      this.renderer.setTask(task.id, task);
    }
  }
}
