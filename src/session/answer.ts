/**
 * A turn's final answer, collected from its events: the text of its last
 * model call (the one after any tools) and how it ended. What `ask` gives
 * callers that want a result, not a stream (delegation, cron, the gateway).
 */
import { SessionError } from "./errors.ts";
import { isKind, type UsageData } from "./events.ts";
import type { Subscription } from "./bus.ts";

export interface TurnAnswer {
  session: number;
  agent: string;
  content: string;
  usage: UsageData;
  stopReason: string;
  model: string;
}

/** Reads the turn's events to its end; a failed turn throws its error, and so does a requester that left (`signal`). */
export async function collectAnswer(
  session: { id: number; agent: string },
  events: Subscription,
  signal?: AbortSignal,
): Promise<TurnAnswer> {
  const stop = () => events.close();
  if (signal?.aborted) stop();
  else signal?.addEventListener("abort", stop, { once: true });
  let text = "";
  try {
    for await (const e of events) {
      if (isKind(e, "chunk")) text += e.body.data.content;
      // A new model call after tools: only the final answer counts.
      if (isKind(e, "toolStart")) text = "";
      if (!isKind(e, "end")) continue;
      const end = e.body.data;
      if (end.stopReason === "error")
        throw new SessionError("turn_failed", end.error || "the turn failed", end.errorCode || undefined);
      return {
        session: session.id,
        agent: session.agent,
        content: text,
        usage: end.usage,
        stopReason: end.stopReason,
        model: end.model,
      };
    }
  } finally {
    signal?.removeEventListener("abort", stop);
  }
  throw new SessionError(
    signal?.aborted ? "conflict" : "internal",
    signal?.aborted ? "the requester left before the turn ended" : "the turn ended without a result",
  );
}
