/**
 * The one way an event leaves the session layer: numbered (the session's
 * next seq), traced (appended to the session's file in seq order),
 * published (the bus, to clients) and observed (hooks, off the turn's path).
 * Turns and compactions publish through this, never through the runtime.
 */
import type { Approver, EventBus } from "./bus.ts";
import { reachesApprover } from "./bus.ts";
import type { EventBody, SessionEvent } from "./events.ts";
import type { HookHub } from "./hooks.ts";
import type { LiveSession } from "./live-session.ts";

export class Publisher {
  constructor(
    readonly bus: EventBus,
    private readonly hooks: HookHub,
  ) {}

  private stamp(session: LiveSession, turn: number, body: EventBody): SessionEvent {
    const seq = ++session.seq;
    return { agent: session.agent, session: session.id, seq, turn, ts: Date.now(), body };
  }

  private out(event: SessionEvent, approver?: Approver): void {
    const routed = approver && approver.kind !== "requester" && approver.kind !== "none" ? approver : undefined;
    this.bus.publish(event, routed ? (f) => reachesApprover(f, routed, event.session) : undefined);
    this.hooks.observe(event);
  }

  /**
   * Numbers, traces and publishes an event. `approver` also routes it to
   * the clients that may answer the turn's approvals when they listen
   * elsewhere (a delegating parent's client, a named gateway).
   */
  emit(session: LiveSession, turn: number, body: EventBody, approver?: Approver): SessionEvent {
    const event = this.stamp(session, turn, body);
    session.traceEvent(event);
    this.out(event, approver);
    return event;
  }

  /**
   * Publishes an event the store already holds, numbered when it was made
   * (a turn's start written during its session's resume: opening.ts); it
   * is not traced again.
   */
  publishWritten(event: SessionEvent): void {
    this.out(event);
  }

  /**
   * A turn's end: published only once it and everything traced before it
   * (the turn's messages) are in the store, so a client that saw StreamEnd
   * may count on the answer surviving a kill -9. It is traced in the same
   * batch as those records when they are not written yet (one write and one
   * fsync for the answer and its end, not two of each). `decide` gives its
   * body: with null for an end whose records all landed, with the storage
   * error otherwise. It is first asked when the batch is about to be written,
   * with any earlier write's failure; when the batch itself then fails (none
   * of it stays in the store), it is asked again with that failure, and that
   * end is traced again under the same seq and published instead. Resolves to
   * the published event and the first storage failure the turn met, if any.
   */
  async emitEnd(
    session: LiveSession,
    turn: number,
    decide: (failure: Error | null) => EventBody,
  ): Promise<{ event: SessionEvent; failure: Error | null }> {
    const seq = ++session.seq;
    const ts = Date.now();
    const eventOf = (failure: Error | null): SessionEvent => ({
      agent: session.agent,
      session: session.id,
      seq,
      turn,
      ts,
      body: decide(failure),
    });
    let earlier: Error | null = null;
    const traced = await session.traceDecided((e) => {
      earlier = e;
      return eventOf(e);
    });
    let { event } = traced;
    if (traced.failure && !earlier) {
      // Nothing of the failed batch is on disk, the successful end included: this one says so (if it can be written).
      const failed = eventOf(traced.failure);
      await session.traceDecided(() => failed);
      event = failed;
    }
    this.out(event);
    return { event, failure: earlier ?? traced.failure };
  }
}
