/**
 * Finishing a reply a previous gateway run left mid-turn. Turns run on in
 * the daemon when the gateway goes away (killed, restarted, SIGTERM); the
 * chat's in-flight record (state.ts) says which session and turn, and which
 * Telegram messages hold the reply so far. On start the gateway attaches
 * to the session after the turn's start seq minus one, so the trace
 * replays the whole turn and live events follow with no gap and no
 * duplicate (the daemon's attach contract), renders it again into the same
 * messages (a new one when Telegram will not edit an old one), and clears
 * the record once the final text is on Telegram.
 *
 * The whole turn is replayed rather than the part after the last seq shown:
 * the reply's text is then rebuilt exactly, with nothing kept in the record
 * but ids. A turn that ended without an end event (the daemon died during
 * it) shows as interrupted. Approval prompts replayed from the trace are
 * not shown again (they were answered or timed out); live ones are.
 */
import { DaemonError, Disconnected } from "../../client/errors.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ReplyRenderer } from "./renderer.ts";
import type { InFlight } from "./state.ts";
import { renderEvent, STOP_REASONS, type TurnDeps } from "./turn.ts";
import { startTyping } from "./typing.ts";

export async function resumeTurn(deps: TurnDeps, chat: number, rec: InFlight): Promise<void> {
  const renderer = new ReplyRenderer(deps.api, chat, deps.editIntervalMs, deps.log, {
    adopt: rec.messages,
    onMessages: (ids) => {
      rec.messages = ids;
      deps.sessions.setInflight(chat, rec);
    },
  });
  deps.renders.add(renderer);
  deps.running.set(chat, rec.session);
  let stopTyping = () => {};
  let seen = rec.turn - 1;
  let cut = false;
  deps.log(`chat ${chat}: resuming the reply of session ${rec.session} (turn ${rec.turn}) left by the previous run`);
  try {
    for (let done = false; !done; ) {
      let replayEnd = 0;
      let running = false;
      try {
        const stream = deps.daemon.stream({
          attach: { session: rec.session, afterSeq: seen, client: deps.clientName },
        });
        for await (const r of stream) {
          if (r.attached) {
            replayEnd = Number(r.attached.lastSeq);
            running = Number(r.attached.runningTurn) === rec.turn;
            if (running) {
              stopTyping();
              stopTyping = startTyping(deps.api, chat);
            } else if (replayEnd <= seen) {
              cut = true; // nothing more of it will come, and its end was never seen
              break;
            }
            continue;
          }
          const ev = r.stream;
          if (!ev) continue;
          const seq = Number(ev.seq);
          if (seq <= seen) continue;
          seen = seq;
          if (ev.start && seq > rec.turn) {
            cut = true; // a later turn started: ours is over, its end cut by a crash
            break;
          }
          if (!ev.start) await renderEvent(deps, chat, renderer, ev, seq > replayEnd);
          if (ev.end) break;
          if (!running && seq >= replayEnd) {
            cut = true;
            break;
          }
        }
        done = true;
      } catch (err) {
        // Dropped for falling behind: attach again after the last seq seen.
        if (err instanceof DaemonError && err.code === ErrorCode.SlowClient) continue;
        throw err;
      }
    }
    if (cut) renderer.note(STOP_REASONS.interrupted!);
  } catch (err) {
    if (deps.stopping.aborted || err instanceof Disconnected) {
      await renderer.flushPartial();
      return;
    }
    if (err instanceof DaemonError && err.code === ErrorCode.NotFound) renderer.note("⚠ the session is gone");
    else renderer.note(`⚠ ${(err as Error).message.split("\n")[0]}`);
    deps.log(`chat ${chat}: resuming session ${rec.session} failed: ${(err as Error).message}`);
  } finally {
    stopTyping();
    deps.running.delete(chat);
    deps.renders.delete(renderer);
  }
  await renderer.finish();
  deps.sessions.setInflight(chat, undefined);
}
