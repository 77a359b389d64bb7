/**
 * A turn's opening on a stored session resumed for it: its start event and
 * question, made for the store to write while it reads the session
 * (SessionStore.resume with a TurnOpening), so the question's fsync, which
 * its request waits for, overlaps the resume instead of following it. Once
 * the store has taken it, the turn publishes and pushes what was made here
 * instead of making and appending its own (turn.ts runTurn's `opened`).
 */
import type { Message } from "../provider/types.ts";
import type { NewRecord, ResumedSession, TurnOpening } from "../store/types.ts";
import { body, type EventBody, type SessionEvent } from "./events.ts";
import { traceRecord } from "./live-session.ts";

/** A turn whose start and question the store wrote during its session's resume. */
export interface OpenedTurn {
  start: SessionEvent;
  user: Message;
  /** Resolves once the opening is written, or refused (the session then holds the failure, as for any append). */
  written: Promise<void>;
}

/** A turn's start event's body: made here and by a turn that makes its own start (turn.ts). */
export const startBody = (agent: string, session: number, sender: string): EventBody =>
  body("start", { agent, session, sender });

/** A turn's question as its history holds it. */
export const question = (content: string): Message => ({ role: "user", content, timestamp: Date.now() });

/** Records in an opening: the start event and the question. */
export const OPENING_RECORDS = 2;

export class TurnOpener implements TurnOpening {
  private made: { start: SessionEvent; user: Message } | undefined;
  /** Set once the store took the opening and the session adopted its write (see resumeLive). */
  opened: OpenedTurn | undefined;

  constructor(
    private readonly agent: string,
    private readonly session: number,
    private readonly sender: string,
    private readonly content: string,
  ) {}

  records(lastSeq: number): NewRecord[] {
    const seq = lastSeq + 1;
    const { agent, session, sender } = this;
    const start: SessionEvent = {
      agent,
      session,
      seq,
      turn: seq,
      ts: Date.now(),
      body: startBody(agent, session, sender),
    };
    const user = question(this.content);
    this.made = { start, user };
    return [traceRecord(start), { kind: "message", message: user }];
  }

  /** What the store wrote for `resumed`, when it took the opening: the session's next events are numbered after it. */
  takenBy(resumed: ResumedSession): OpenedTurn | undefined {
    return resumed.opened && this.made ? { ...this.made, written: resumed.opened.written } : undefined;
  }
}
