/**
 * Turn requests: StreamMsg (every event of the turn, live), SendMsg (one
 * answer with the final text), CancelMsg and ApproveMsg.
 *
 * A client that disconnects mid-turn only stops listening: the turn runs on
 * and its result stays in the session.
 */
import type { HandlerTable, Reply, RequestContext } from "../router.ts";
import type { SessionRuntime } from "../../session/runtime.ts";
import type { Subscription } from "../../session/bus.ts";
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import { ConnectionClosed } from "../../transport/framing.ts";

/** Senders that are programs, not people: they cannot answer approval prompts. */
const NON_INTERACTIVE = /^(cron|scheduler|gateway|telegram|webhook|task|delegate)\b/i;

export function isInteractive(sender: string | undefined): boolean {
  return !sender || !NON_INTERACTIVE.test(sender);
}

function stopOnDisconnect(ctx: RequestContext, events: Subscription): void {
  if (ctx.signal.aborted) events.close();
  else ctx.signal.addEventListener("abort", () => events.close(), { once: true });
}

export function turnHandlers(runtime: SessionRuntime): HandlerTable {
  return {
    stream: async (req, ctx) => {
      const { events } = await runtime.startTurn({
        agent: req.agent,
        content: req.content,
        session: req.session,
        sender: req.sender ?? "client",
        interactive: isInteractive(req.sender),
      });
      stopOnDisconnect(ctx, events);
      return (async function* (): AsyncGenerator<Reply> {
        for await (const e of events) {
          const end = e.event.end;
          if (end && end.stopReason === "error") {
            // The original contract ends a failed turn with ErrorMsg instead of StreamEnd.
            yield {
              error: { code: end.errorCode || ErrorCode.ProviderFailed, message: end.error ?? "the turn failed" },
            };
            return;
          }
          yield { stream: e.event };
          if (end) return;
        }
      })();
    },

    send: async (req, ctx) => {
      const { session, events } = await runtime.startTurn({
        agent: req.agent,
        content: req.content,
        session: req.session,
        sender: req.sender ?? "client",
        interactive: false,
      });
      stopOnDisconnect(ctx, events);
      let text = "";
      for await (const e of events) {
        if (e.event.chunk) text += e.event.chunk.content ?? "";
        // A new model call after tools: only the final answer counts.
        if (e.event.toolStart) text = "";
        const end = e.event.end;
        if (!end) continue;
        if (end.stopReason === "error")
          throw new WireError(end.errorCode || ErrorCode.ProviderFailed, end.error ?? "the turn failed");
        return {
          response: {
            agent: session.agent,
            content: text,
            session: session.id,
            usage: end.usage,
            stopReason: end.stopReason,
            model: end.model,
          },
        };
      }
      // The requester went away (or unsubscribed): nobody to answer, and nothing went wrong in the daemon.
      if (ctx.signal.aborted) throw new ConnectionClosed("the requester left before the turn ended");
      throw new WireError(ErrorCode.Internal, "the turn ended without a result");
    },

    cancel: (req) => {
      if (!req.session) throw new WireError(ErrorCode.BadRequest, "cancel needs the session whose turn to stop");
      if (!runtime.cancel(req.session))
        throw new WireError(ErrorCode.NotFound, `no turn is running on session ${req.session}`);
      return { ack: { message: `cancelling the turn running on session ${req.session}` } };
    },

    approve: (req) => {
      if (!req.callId)
        throw new WireError(ErrorCode.BadRequest, "approve needs call_id: the id from the approval request");
      const allow = req.response.trim().toLowerCase() === "allow";
      if (!runtime.approvals.answer(req.callId, allow, req.reason, req.session)) {
        throw new WireError(
          ErrorCode.NotFound,
          `no approval is waiting for call ${req.callId} (already answered, timed out, or another session's)`,
        );
      }
      return { ack: { message: `${allow ? "allowed" : "denied"} call ${req.callId}` } };
    },
  };
}
