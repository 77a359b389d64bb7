/**
 * Following one turn from its start to its end, for clients that must not
 * lose any of it: a StreamMsg whose events are yielded in order, and, if the
 * daemon drops this client for falling behind (408), an attach after the
 * last seq seen, which replays the rest from the session's trace and goes
 * on live: nothing missed, nothing twice. Used by `crabtalk send` and the
 * editor bridge.
 */
import type { Init } from "../protocol/codec.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { StreamEvent, StreamMsg } from "../protocol/gen/crabtalk.ts";
import type { CrabtalkClient } from "./client.ts";
import { DaemonError } from "./errors.ts";

export async function* followTurn(
  client: CrabtalkClient,
  stream: Init<StreamMsg>,
  /** This connection's client name, repeated on a re-attach (for "client:<name>" approvers). */
  clientName?: string,
): AsyncGenerator<StreamEvent> {
  let session = 0;
  let lastSeq = 0;
  let started = false;
  let source: AsyncIterable<{ stream?: StreamEvent }> = client.stream({ stream });
  for (;;) {
    try {
      for await (const reply of source) {
        const ev = reply.stream;
        if (!ev || ev.seq <= lastSeq) continue;
        if (ev.event === "start") {
          // On a re-attach, a later turn's start means ours is over (its end was seen or cut).
          if (started) return;
          started = true;
          session = ev.start!.session;
        }
        lastSeq = ev.seq;
        yield ev;
        if (ev.event === "end") return;
      }
      return;
    } catch (err) {
      if (!(err instanceof DaemonError) || err.code !== ErrorCode.SlowClient || !session) throw err;
      source = client.stream({ attach: { session, afterSeq: lastSeq, ...(clientName ? { client: clientName } : {}) } });
    }
  }
}
