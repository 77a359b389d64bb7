/**
 * Runs one cron slot as a turn: sender `cron:<id>`, approver none (nobody is
 * there to answer, so `ask` tools are denied). A `continue` job reuses its
 * session; when that session is gone (deleted), the run starts a fresh one
 * and the job keeps that instead.
 */
import type { CronJobSpec } from "../config/crons.ts";
import { SessionError } from "../session/errors.ts";
import { isKind } from "../session/events.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import type { RunResult } from "./scheduler.ts";

export type TurnStarter = Pick<SessionRuntime, "startTurn">;

export async function runCronTurn(
  runtime: TurnStarter,
  job: CronJobSpec,
  session: number | undefined,
): Promise<RunResult & { content: string }> {
  const request = {
    agent: job.agent,
    content: job.message,
    sender: `cron:${job.id}`,
    approver: { kind: "none" as const },
  };
  let started: Awaited<ReturnType<TurnStarter["startTurn"]>>;
  try {
    started = await runtime.startTurn(session ? { ...request, session } : request, { interactive: false });
  } catch (err) {
    if (!(session && err instanceof SessionError && err.kind === "not_found")) throw err;
    started = await runtime.startTurn(request, { interactive: false });
  }
  const id = started.session.id;
  let text = "";
  try {
    for await (const e of started.events) {
      if (isKind(e, "chunk")) text += e.body.data.content;
      if (isKind(e, "toolStart")) text = "";
      if (!isKind(e, "end")) continue;
      const end = e.body.data;
      const tokens = end.usage.promptTokens + end.usage.completionTokens;
      if (end.stopReason === "error")
        return { status: "failed", session: id, tokens, error: end.error || "the turn failed", content: text };
      return { status: "ok", session: id, tokens, content: text };
    }
  } catch (err) {
    return { status: "failed", session: id, error: (err as Error).message, content: text };
  }
  return { status: "failed", session: id, error: "the turn ended without an end event", content: text };
}
