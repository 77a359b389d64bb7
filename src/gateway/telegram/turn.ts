/**
 * One chat message as one turn: a StreamMsg on the chat's session with its
 * agent, the gateway as the approver (`client:<name>`), the events rendered
 * as they come (text, tool lines with durations, approval prompts; thinking
 * is not shown), a typing action while it works, and a short readable line
 * when it fails or is stopped. The session the daemon opened is recorded
 * for the chat at the turn's start, so a restart continues it.
 */
import type { Api } from "grammy/web";
import type { CrabtalkClient } from "../../client/client.ts";
import { DaemonError, Disconnected } from "../../client/errors.ts";
import { followTurn } from "../../client/turn.ts";
import type { Approvals } from "./approvals.ts";
import { ReplyRenderer } from "./renderer.ts";
import type { ChatSessions } from "./state.ts";
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
}

/** A chat's message between leaving the queue and its turn's start event: /stop sets `stop`. */
export interface Starting {
  stop: boolean;
}

const STOP_REASONS: Record<string, string> = {
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
  const renderer = new ReplyRenderer(deps.api, chat, deps.editIntervalMs, deps.log);
  if (starting.stop) {
    renderer.note("⏹ stopped before it started");
    await renderer.finish();
    return;
  }
  const stopTyping = startTyping(deps.api, chat);
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
            deps.sessions.setSession(chat, agent, id);
            if (starting.stop)
              await deps.daemon.request({ cancel: { session: id } }).catch((err: unknown) => {
                deps.log(`chat ${chat}: could not stop session ${id} as asked: ${(err as Error).message}`);
              });
          } else if (ev.chunk) renderer.text(ev.chunk.content);
          else if (ev.toolStart) {
            for (const c of ev.toolStart.calls) renderer.toolStart(c.id, c.name);
          } else if (ev.toolResult) {
            renderer.toolEnd(ev.toolResult.callId, !ev.toolResult.isError, Number(ev.toolResult.durationMs));
            void deps.approvals.settled(Number(ev.session), ev.toolResult.callId);
          } else if (ev.approval)
            await deps.approvals.prompt(chat, ev.approval).catch((err: unknown) => {
              deps.log(`chat ${chat}: could not show an approval prompt: ${(err as Error).message}`);
            });
          else if (ev.error) renderer.note(`⚠ ${short(ev.error.message)}`);
          else if (ev.end) {
            const why = STOP_REASONS[ev.end.stopReason];
            if (why) renderer.note(why);
          }
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
    if (err instanceof Disconnected) renderer.note("⚠ lost the connection to the daemon; try again in a moment");
    else renderer.note(`⚠ ${short(err instanceof Error ? err.message : String(err))}`);
    deps.log(`chat ${chat}: turn failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    deps.running.delete(chat);
    stopTyping();
  }
  await renderer.finish();
}

/** First line, at most 300 characters: errors are shown, not dumped. */
function short(message: string): string {
  const line = message.split("\n")[0] ?? message;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
