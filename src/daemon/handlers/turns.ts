/**
 * Turn requests: StreamMsg (every event of the turn, live), SendMsg (one
 * answer with the final text), CancelMsg and ApproveMsg. Each translates
 * between wire messages and the session runtime; nothing else.
 *
 * A client that disconnects mid-turn only stops listening: the turn runs on
 * and its result stays in the session.
 */
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import type { Approver } from "../../session/bus.ts";
import { isKind } from "../../session/events.ts";
import type { SessionRuntime } from "../../session/runtime.ts";
import { ConnectionClosed } from "../../transport/framing.ts";
import type { HandlerTable, Reply, RequestContext } from "../router.ts";
import { SessionError } from "../../session/errors.ts";
import { streamEvent } from "../wire.ts";
import { replyStream } from "./reply-stream.ts";

/** Parses the approver field: "requester", "none", "session:<id>", "client:<name>"; empty means `fallback`. */
export function parseApprover(text: string | undefined, fallback: Approver): Approver {
  const t = text?.trim() ?? "";
  if (t === "") return fallback;
  if (t === "requester") return { kind: "requester" };
  if (t === "none") return { kind: "none" };
  const session = /^session:(\d+)$/.exec(t);
  if (session) return { kind: "session", session: Number(session[1]) };
  const client = /^client:(.+)$/.exec(t);
  if (client) return { kind: "client", name: client[1]! };
  throw new WireError(
    ErrorCode.BadRequest,
    `approver "${t}" is not one of requester, none, session:<id>, client:<name>`,
  );
}

/**
 * The approver of a StreamMsg that declares none. Clients written against
 * the original contract mark programs by their sender ("cron", "telegram:…")
 * and expect those turns to be denied `ask` tools at once rather than wait
 * for a prompt nobody sees; an explicit `approver` always wins over this.
 */
const PROGRAM_SENDERS = /^(cron|scheduler|gateway|telegram|webhook|task|delegate|event)\b/i;

export function defaultApprover(sender: string | undefined): Approver {
  return sender && PROGRAM_SENDERS.test(sender) ? { kind: "none" } : { kind: "requester" };
}

function closeOnAbort(ctx: RequestContext, close: () => void): void {
  if (ctx.signal.aborted) close();
  else ctx.signal.addEventListener("abort", close, { once: true });
}

export function turnHandlers(runtime: SessionRuntime): HandlerTable {
  return {
    stream: async (req, ctx) => {
      const { events } = await runtime.startTurn(
        {
          agent: req.agent,
          content: req.content,
          session: req.session,
          sender: req.sender ?? "client",
          approver: parseApprover(req.approver, defaultApprover(req.sender)),
        },
        (req.client ?? ctx.clientName) ? { clientName: req.client ?? ctx.clientName } : {},
      );
      closeOnAbort(ctx, () => events.close());
      return replyStream(
        events,
        (e): Reply => {
          if (isKind(e, "end") && e.body.data.stopReason === "error") {
            // The original contract ends a failed turn with ErrorMsg instead of StreamEnd.
            const end = e.body.data;
            return {
              error: { code: end.errorCode || ErrorCode.ProviderFailed, message: end.error || "the turn failed" },
            };
          }
          return { stream: streamEvent(e) };
        },
        (e) => isKind(e, "end"),
      );
    },

    send: async (req, ctx) => {
      try {
        const answer = await runtime.ask(
          {
            agent: req.agent,
            content: req.content,
            session: req.session,
            sender: req.sender ?? "client",
            approver: parseApprover(req.approver, { kind: "none" }),
          },
          ctx.signal,
        );
        return { response: answer };
      } catch (err) {
        // The requester went away: nobody to answer, and nothing went wrong in the daemon.
        if (ctx.signal.aborted && err instanceof SessionError)
          throw new ConnectionClosed("the requester left before the turn ended");
        throw err;
      }
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
      // Call ids repeat across sessions (local models say "call_0"): the session says which call is meant.
      if (!req.session)
        throw new WireError(
          ErrorCode.BadRequest,
          "approve needs session: the session of the approval request (ApprovalRequest.session)",
        );
      const allow = req.response.trim().toLowerCase() === "allow";
      if (!runtime.approve(req.session, req.callId, allow, req.reason)) {
        throw new WireError(
          ErrorCode.NotFound,
          `no approval is waiting for call ${req.callId} on session ${req.session} (already answered, timed out, or never asked)`,
        );
      }
      return { ack: { message: `${allow ? "allowed" : "denied"} call ${req.callId}` } };
    },
  };
}
