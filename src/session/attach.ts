/**
 * Attach: follow one session from a sequence number on, without a gap and
 * without a duplicate, whether its events are on disk, in flight or yet to
 * come.
 *
 * The seam: subscribe first, so every event published from then on reaches
 * the subscription; flush the live session's batched deltas, so every event
 * published before is in the trace (a session not in memory has nothing
 * pending). Replay the trace after after_seq, then live events, skipping
 * any seq already handed out: the two ranges overlap (a turn may run on
 * while the trace is read) but never leave a hole between them.
 */
import type { EventRecord, SessionStore } from "../store/types.ts";
import type { EventBus, EventFilter } from "./bus.ts";
import { SessionError, SlowSubscriber } from "./errors.ts";
import type { EventBody, SessionEvent } from "./events.ts";
import type { LiveSession } from "./live-session.ts";
import { SUBSCRIPTION_CAPACITY } from "./bus.ts";

/** What an attach tells first: where replay ends and which turn is running. */
export interface AttachHeader {
  session: number;
  agent: string;
  /** Every event up to this seq is replayed (when asked); later ones arrive live. */
  lastSeq: number;
  /** Start seq of the turn in flight, 0 when none. */
  runningTurn: number;
}

export interface Attachment {
  header: AttachHeader;
  /** Replay after `afterSeq` (when given), then live events, each seq once, in order. */
  events: AsyncIterable<SessionEvent>;
  /** Stops following (also ends `events`). */
  close(): void;
}

/** A trace record read back from the store, as it was published. */
export function eventFromRecord(r: EventRecord, session: number, agent: string): SessionEvent {
  return {
    agent,
    session,
    seq: r.event.seq,
    turn: typeof r.event.turn === "number" ? r.event.turn : 0,
    ts: r.ts,
    body: { kind: r.event.type, data: r.event.data ?? {} } as EventBody,
  };
}

export async function attachSession(
  deps: { store: SessionStore; bus: EventBus; live(id: number): LiveSession | undefined },
  id: number,
  afterSeq: number | undefined,
  filter: Omit<EventFilter, "session"> = {},
): Promise<Attachment> {
  const summary = await deps.store.summary(id);
  if (!summary) throw new SessionError("not_found", `session ${id} not found`);
  const sub = deps.bus.subscribe({ ...filter, session: id });
  const live = deps.live(id);
  // Read the seam before any await: events after it reach `sub`, events up to it are in the trace once flushed.
  const seam = live ? live.seq : summary.lastSeq;
  const runningTurn = live?.running?.startSeq ?? 0;
  try {
    if (afterSeq !== undefined) await live?.flushTrace();
  } catch (err) {
    sub.close();
    throw err;
  }
  const store = deps.store;
  const events = (async function* (): AsyncGenerator<SessionEvent> {
    let last = afterSeq ?? 0;
    try {
      if (afterSeq !== undefined) {
        for await (const r of store.readEvents(id, afterSeq)) {
          if (r.event.seq <= last) continue;
          last = r.event.seq;
          yield eventFromRecord(r, id, summary.agent);
        }
      }
      for await (const e of sub) {
        if (e.seq <= last) continue;
        last = e.seq;
        yield e;
      }
    } catch (err) {
      // The subscription only knows what it handed out live; the client also got the replay.
      if (err instanceof SlowSubscriber) throw new SlowSubscriber(last, SUBSCRIPTION_CAPACITY);
      throw err;
    } finally {
      sub.close();
    }
  })();
  return {
    header: { session: id, agent: summary.agent, lastSeq: seam, runningTurn },
    events,
    close: () => sub.close(),
  };
}
