/**
 * One ACP prompt turn: a StreamMsg to the daemon whose events are sent to
 * the editor as `session/update` notifications, in order, and whose
 * approval requests become `session/request_permission` requests answered
 * back to the daemon with ApproveMsg. Resolves with the ACP stop reason.
 *
 * The turn belongs to the daemon, not to this connection: if the editor
 * goes away, the daemon stops sending to us and the turn runs on (attach
 * and events still see it). Only `session/cancel` stops it (CancelMsg).
 */
import { type AgentContext, RequestError, type SessionUpdate, type StopReason } from "@agentclientprotocol/sdk";
import type { CrabtalkClient } from "../client/client.ts";
import { DaemonError } from "../client/errors.ts";
import { followTurn as turnEvents } from "../client/turn.ts";
import type { ApprovalRequest, ServerMessage, StreamEvent } from "../protocol/gen/crabtalk.ts";
import { parseArguments, stopReasonOf, toolKindOf, toolTitle, updatesOfEvent } from "./mapping.ts";

/** What the bridge keeps per ACP session. */
export interface BridgeSession {
  /** The ACP session id the editor uses (the daemon session id once one exists). */
  readonly id: string;
  agent: string;
  cwd: string;
  /** The daemon session; 0 until the first prompt creates it. */
  daemonSession: number;
  /** Set while a prompt runs: aborting it withdraws pending permission requests. */
  running: AbortController | null;
  cancelled: boolean;
}

export const ALLOW_ONCE = "allow-once";
export const REJECT_ONCE = "reject-once";

export interface TurnDeps {
  daemon: CrabtalkClient;
  editor: AgentContext;
  log: (line: string) => void;
  /** Called once the daemon has named the session this turn runs on (the first prompt creates it). */
  onDaemonSession: (session: BridgeSession, daemonSession: number) => Promise<void>;
}

export async function runPrompt(deps: TurnDeps, session: BridgeSession, content: string): Promise<StopReason> {
  try {
    const end = await forwardTurn(
      deps,
      session,
      turnEvents(
        deps.daemon,
        {
          agent: session.agent,
          content,
          session: session.daemonSession || undefined,
          sender: "acp",
          approver: "requester",
          client: "acp",
        },
        "acp",
      ),
      async (ev) => {
        if (ev.event !== "start" || session.daemonSession) return;
        session.daemonSession = ev.start!.session;
        await deps.onDaemonSession(session, ev.start!.session);
        // A session/cancel that came before the daemon named the session could not be sent then.
        if (session.cancelled) await cancelTurn(deps, session.daemonSession);
      },
    );
    if (end === null)
      throw RequestError.internalError(undefined, "the daemon closed the turn's stream before it ended");
    return session.cancelled ? "cancelled" : stopReasonOf(end);
  } catch (err) {
    if (err instanceof DaemonError)
      throw new RequestError(-32603, `crabtalk daemon: ${err.message} (code ${err.code})`, { code: err.code });
    throw err;
  }
}

/**
 * Follows a turn that was already running when the editor loaded its
 * session (started by another client, or by this editor before it closed):
 * its live events become updates and its approvals permission requests,
 * until it ends. What it streamed before the load is not replayed (the
 * history replay shows what the session has stored).
 */
export async function followTurn(deps: TurnDeps, session: BridgeSession, live: AsyncIterable<ServerMessage>) {
  async function* events(): AsyncGenerator<StreamEvent> {
    for await (const reply of live) if (reply.stream) yield reply.stream;
  }
  try {
    await forwardTurn(deps, session, events(), async () => {});
  } catch (err) {
    deps.log(`following the running turn of session ${session.daemonSession}: ${(err as Error).message}`);
  }
}

/** Sends a turn's events to the editor until its end; resolves with the daemon's stop reason (null: no end came). */
async function forwardTurn(
  deps: TurnDeps,
  session: BridgeSession,
  events: AsyncIterable<StreamEvent>,
  onEvent: (ev: StreamEvent) => Promise<void>,
): Promise<string | null> {
  const notify = (update: SessionUpdate) => deps.editor.notify("session/update", { sessionId: session.id, update });
  const running = new AbortController();
  session.running = running;
  session.cancelled = false;
  const approvals: Promise<void>[] = [];
  try {
    for await (const ev of events) {
      await onEvent(ev);
      // Not awaited: the editor may take its time, and the turn's other events (a parallel call's output) flow meanwhile.
      if (ev.event === "approval") approvals.push(askPermission(deps, session, ev.approval!, running.signal));
      for (const update of updatesOfEvent(ev)) await notify(update);
      if (ev.event === "end") return ev.end!.stopReason;
    }
    return null;
  } finally {
    session.running = null;
    running.abort(new Error("the turn ended"));
    await Promise.allSettled(approvals);
  }
}

/** CancelMsg for the turn running on a daemon session; a 404 means it ended first (the prompt says how). */
export async function cancelTurn(deps: Pick<TurnDeps, "daemon" | "log">, daemonSession: number): Promise<void> {
  await deps.daemon.request({ cancel: { session: daemonSession } }).catch((err: Error) => {
    deps.log(`cancel of session ${daemonSession}: ${err.message}`);
  });
}

/**
 * Asks the editor about one call under `ask` and gives the daemon its answer.
 * The editor's "cancelled" outcome is a rejection; a request that fails or is
 * withdrawn because the turn ended leaves the daemon's approval as it is.
 */
async function askPermission(
  deps: TurnDeps,
  session: BridgeSession,
  approval: ApprovalRequest,
  turnOver: AbortSignal,
): Promise<void> {
  let allow = false;
  let reason = "the user rejected this call in the editor";
  try {
    const answer = await deps.editor.request(
      "session/request_permission",
      {
        sessionId: session.id,
        toolCall: {
          toolCallId: approval.callId,
          title: toolTitle({ name: approval.tool, arguments: approval.arguments }),
          name: approval.tool,
          kind: toolKindOf(approval.tool),
          status: "pending",
          rawInput: parseArguments(approval.arguments),
        },
        options: [
          { optionId: ALLOW_ONCE, name: "Allow once", kind: "allow_once" },
          { optionId: REJECT_ONCE, name: "Reject", kind: "reject_once" },
        ],
      },
      { cancellationSignal: turnOver, stopWaitingOnCancel: true },
    );
    if (answer.outcome.outcome === "selected") allow = answer.outcome.optionId === ALLOW_ONCE;
    else reason = "the editor cancelled the permission request";
  } catch (err) {
    // No answer (the editor closed, or failed the request): the call stays pending for another client
    // (attach, the editor reopened) or the daemon's approval timeout, as if nobody had seen it.
    if (!turnOver.aborted)
      deps.log(`permission request for call ${approval.callId} unanswered: ${(err as Error).message}`);
    return;
  }
  try {
    await deps.daemon.request({
      approve: {
        callId: approval.callId,
        response: allow ? "allow" : "deny",
        session: approval.session || session.daemonSession,
        reason: allow ? undefined : reason,
        taskId: 0,
      },
    });
  } catch (err) {
    // 404: answered elsewhere (attach), timed out, or the turn was cancelled: nothing waits for us any more.
    deps.log(`approval of call ${approval.callId} not delivered: ${(err as Error).message}`);
  }
}
