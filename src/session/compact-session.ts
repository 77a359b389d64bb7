/**
 * Runs a compaction on a live session (between turns): summarizes, and on
 * success appends the marker, swaps the model-visible history for the
 * summary and publishes a compaction event with tokens before and after.
 * On failure nothing changes.
 */
import { summaryMessage } from "../store/fold.ts";
import { estimateTokens, summarize } from "./compaction.ts";
import type { LiveSession } from "./live-session.ts";
import type { SessionRuntime } from "./runtime.ts";

export type CompactOutcome = { ok: true; tokensBefore: number; tokensAfter: number } | { ok: false; message: string };

/** `signal` is the running turn's: CancelMsg (or kill, or shutdown) stops the summarize request, and nothing changes. */
export async function compactSession(
  runtime: SessionRuntime,
  session: LiveSession,
  model: string,
  signal?: AbortSignal,
): Promise<CompactOutcome> {
  if (session.history.length === 0) return { ok: false, message: "the session has no messages to compact" };
  const tokensBefore = Math.max(session.lastPromptTokens, estimateTokens(session.history));
  const result = await summarize(runtime.deps.streamFor(model), model, session.history, signal);
  if (signal?.aborted) return { ok: false, message: "compaction was cancelled" };
  if (!result.ok) return result;
  runtime.deps.usage.record(session.agent, model, result.usage);
  const summary = summaryMessage(result.summary, Date.now());
  const tokensAfter = estimateTokens([summary]);
  await session.append([{ kind: "compaction", summary: result.summary, tokensBefore, tokensAfter }]);
  session.history = [summary];
  session.lastPromptTokens = tokensAfter;
  runtime.emit(session, 0, { compaction: { tokensBefore, tokensAfter, summary: result.summary } });
  return { ok: true, tokensBefore, tokensAfter };
}
