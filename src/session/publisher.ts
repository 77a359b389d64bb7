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
   * Like emit, but publishes only once the event and everything traced
   * before it (the turn's messages) are in the store. A turn's end goes
   * out this way: a client that saw StreamEnd may count on the answer
   * surviving a kill -9. Rejects when the store could not write it.
   */
  async emitDurable(session: LiveSession, turn: number, body: EventBody): Promise<SessionEvent> {
    const event = this.stamp(session, turn, body);
    session.traceEvent(event);
    await session.flushTrace();
    this.out(event);
    return event;
  }
}
