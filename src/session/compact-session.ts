/**
 * Runs a compaction on a live session (between turns): asks the compaction
 * hooks for prompt additions, summarizes, and on success appends the
 * marker, swaps the model-visible history for the summary, publishes a
 * compaction event with tokens before and after, and tells the
 * after-compact hooks. On failure nothing changes.
 */
import { summaryMessage } from "../store/fold.ts";
import { estimateTokens, summarize } from "./compaction.ts";
import { body } from "./events.ts";
import type { LiveSession } from "./live-session.ts";
import type { TurnEnv } from "./turn.ts";

export type CompactOutcome = { ok: true; tokensBefore: number; tokensAfter: number } | { ok: false; message: string };

/** `signal` is the running turn's: CancelMsg (or kill, or shutdown) stops the summarize request, and nothing changes. */
export async function compactSession(
  env: TurnEnv,
  session: LiveSession,
  model: string,
  signal?: AbortSignal,
): Promise<CompactOutcome> {
  if (session.history.length === 0) return { ok: false, message: "the session has no messages to compact" };
  const tokensBefore = Math.max(session.lastPromptTokens, estimateTokens(session.history));
  const additions = await env.hooks.compactionPrompt({ agent: session.agent, session: session.id }, signal);
  const stream = env.settings().streamFor(model);
  const result = await summarize(stream, model, session.history, signal, additions);
  if (signal?.aborted) return { ok: false, message: "compaction was cancelled" };
  if (!result.ok) return result;
  env.usage.record(session.agent, model, result.usage);
  const summary = summaryMessage(result.summary, Date.now());
  const tokensAfter = estimateTokens([summary]);
  await session.append([{ kind: "compaction", summary: result.summary, tokensBefore, tokensAfter }]);
  session.history = [summary];
  session.lastPromptTokens = tokensAfter;
  env.publisher.emit(session, 0, body("compaction", { tokensBefore, tokensAfter, summary: result.summary }));
  void env.hooks.afterCompact({ agent: session.agent, session: session.id, summary: result.summary });
  return { ok: true, tokensBefore, tokensAfter };
}
