/**
 * What a delegate call's ToolResult.details says about the tasks it started
 * (written by src/delegation/tools.ts as `{"tasks": [{"session": N, ...}]}`):
 * read by every client that nests a task's session under its call (the
 * terminal replay, the dashboard timeline). Anything else reads as none.
 */
export interface TaskSession {
  session: number;
  /** The task's agent; "" when the details do not name it. */
  agent: string;
}

export function taskSessions(details: string | undefined): TaskSession[] {
  if (!details) return [];
  try {
    const parsed = JSON.parse(details) as { tasks?: { session?: unknown; agent?: unknown }[] };
    return (parsed.tasks ?? [])
      .filter((t) => typeof t.session === "number")
      .map((t) => ({ session: t.session as number, agent: typeof t.agent === "string" ? t.agent : "" }));
  } catch {
    return [];
  }
}
