/**
 * One chat message as one turn: a StreamMsg on the chat's session with its
 * agent, the gateway as the approver (`client:<name>`), the events rendered
 * as they come (text, tool lines with durations, approval prompts; thinking
 * is not shown), a typing action while it works, and a short readable line
 * when it fails or is stopped. The session the daemon opened is recorded
 * for the chat at the turn's start, so a restart continues it, and so is
 * the turn in flight (state.ts InFlight) until its reply is final: a
 * gateway killed or stopped mid-turn leaves it, and the next run finishes
 * the reply (resume.ts).
 */
import type { Api } from "grammy/web";
import type { CrabtalkClient } from "../../client/client.ts";
import { DaemonError, Disconnected } from "../../client/errors.ts";
import { followTurn } from "../../client/turn.ts";
import type { Approvals } from "./approvals.ts";
import type { StreamEvent } from "../../protocol/gen/crabtalk.ts";
import { ReplyRenderer } from "./renderer.ts";
import type { ChatSessions, InFlight } from "./state.ts";
import { startTyping } from "./typing.ts";

export interface TurnDeps {
  api: Api;
  daemon: CrabtalkClient;
  clientName: string;
  sessions: ChatSessions;
  approvals: Approvals;
  editIntervalMs: number;
  log: (line: string) => void;
  /** Sessions with a turn running, by chat (for /stop and /status). */
  running: Map<number, number>;
  /** Chats whose message is being turned into a turn that has not started yet (for /stop). */
  starting: Map<number, Starting>;
  /** Replies being rendered now: on SIGTERM each gets one last edit (gateway.ts). */
  renders: Set<ReplyRenderer>;
  /** Aborted on SIGTERM: a turn cut by the exit keeps its in-flight record for the next run (resume.ts). */
  stopping: AbortSignal;
}

/** A chat's message between leaving the queue and its turn's start event: /stop sets `stop`. */
export interface Starting {
  stop: boolean;
}

export const STOP_REASONS: Record<string, string> = {
  aborted: "⏹ stopped",
  interrupted: "⏹ interrupted (the daemon stopped during this turn)",
  length: "⚠ the answer was cut at the model's output limit",
  max_iterations: "⚠ stopped after the most tool rounds an answer may take",
  token_budget: "⚠ stopped: the daily token budget is spent",
  refusal: "⚠ the model refused",
};

/**
 * `starting` is the chat's record from gateway.ts (registered before attachments are fetched): a /stop
 * before the StreamMsg is sent means it is never sent; one after it (the daemon may hold the turn behind
 * another on the session) cancels the turn the moment its start event names the session.
 */
export async function runTurn(
  deps: TurnDeps,
  chat: number,
  user: number,
  content: string,
  starting: Starting = { stop: false },
): Promise<void> {
  const agent = deps.sessions.agentOf(chat);
  let inflight: InFlight | undefined;
  const renderer = new ReplyRenderer(deps.api, chat, deps.editIntervalMs, deps.log, {
    onMessages: (ids) => {
      if (!inflight) return;
      inflight.messages = ids;
      deps.sessions.setInflight(chat, inflight);
    },
  });
  if (starting.stop) {
    renderer.note("⏹ stopped before it started");
    await renderer.finish();
    return;
  }
  const stopTyping = startTyping(deps.api, chat);
  deps.renders.add(renderer);
  try {
    let session = deps.sessions.sessionOf(chat, agent);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        for await (const ev of followTurn(
          deps.daemon,
          {
            agent,
            content,
            ...(session ? { session } : {}),
            sender: `telegram:${user}`,
            approver: `client:${deps.clientName}`,
            client: deps.clientName,
          },
          deps.clientName,
        )) {
          if (ev.start) {
            const id = Number(ev.start.session);
            deps.running.set(chat, id);
            if (deps.starting.get(chat) === starting) deps.starting.delete(chat); // started: /stop cancels it by session now
            deps.sessions.setSession(chat, agent, id);
            inflight = { session: id, agent, turn: Number(ev.seq), messages: renderer.messageIds };
            deps.sessions.setInflight(chat, inflight);
            if (starting.stop)
              await deps.daemon.request({ cancel: { session: id } }).catch((err: unknown) => {
                deps.log(`chat ${chat}: could not stop session ${id} as asked: ${(err as Error).message}`);
              });
          } else await renderEvent(deps, chat, renderer, ev, true);
        }
        break;
      } catch (err) {
        // The chat's session was deleted at the daemon: start a new one once, and say so.
        if (err instanceof DaemonError && err.code === 404 && session && attempt === 0) {
          renderer.note(`(session ${session} is gone; starting a new one)`);
          deps.sessions.forget(chat, agent);
          session = undefined;
          continue;
        }
        throw err;
      }
    }
  } catch (err) {
    // Cut by this gateway's exit (SIGTERM, or the daemon went away): the turn goes on (or was cut) at the
    // daemon, and the next run resumes the reply from the in-flight record.
    if (inflight && (deps.stopping.aborted || err instanceof Disconnected)) {
      deps.log(`chat ${chat}: the reply of session ${inflight.session} is left for the next run to finish`);
      await renderer.flushPartial();
      return;
    }
    if (err instanceof Disconnected) renderer.note("⚠ lost the connection to the daemon; try again in a moment");
    else renderer.note(`⚠ ${short(err instanceof Error ? err.message : String(err))}`);
    deps.log(`chat ${chat}: turn failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    deps.running.delete(chat);
    deps.renders.delete(renderer);
    stopTyping();
  }
  await renderer.finish();
  if (inflight) deps.sessions.setInflight(chat, undefined);
}

/** Renders one event of a turn other than its start (shared with resume.ts); `live`: approval prompts are shown. */
export async function renderEvent(
  deps: Pick<TurnDeps, "approvals" | "log">,
  chat: number,
  renderer: ReplyRenderer,
  ev: StreamEvent,
  live: boolean,
): Promise<void> {
  if (ev.chunk) renderer.text(ev.chunk.content);
  else if (ev.toolStart) {
    for (const c of ev.toolStart.calls) renderer.toolStart(c.id, c.name);
  } else if (ev.toolResult) {
    renderer.toolEnd(ev.toolResult.callId, !ev.toolResult.isError, Number(ev.toolResult.durationMs));
    void deps.approvals.settled(Number(ev.session), ev.toolResult.callId);
  } else if (ev.approval && live)
    await deps.approvals.prompt(chat, ev.approval).catch((err: unknown) => {
      deps.log(`chat ${chat}: could not show an approval prompt: ${(err as Error).message}`);
    });
  else if (ev.error) renderer.note(`⚠ ${short(ev.error.message)}`);
  else if (ev.end) {
    const why = STOP_REASONS[ev.end.stopReason];
    if (why) renderer.note(why);
  }
}

/** First line, at most 300 characters: errors are shown, not dumped. */
function short(message: string): string {
  const line = message.split("\n")[0] ?? message;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
