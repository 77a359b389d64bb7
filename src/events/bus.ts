/**
 * The event bus: events are how agents trigger agents. A published event
 * (built-in: agent:<name>:done|failed and session:<id>:end after each turn,
 * cron:<id>:done|failed; external:
 * PublishEvent) that matches a subscription goes into the durable queue
 * before the publisher is answered, then each matching subscription starts
 * a turn of its target with sender `event:<source>`.
 *
 * Loops end: an event carries its hop count and chain ("agent@source" steps).
 * A delivery past MAX_HOPS, or one that would re-enter an agent already on
 * its chain with the same source, is dropped and recorded with the chain in
 * the dead-letter list. A turn that cannot start is retried with backoff and
 * ends there too after MAX_ATTEMPTS.
 */
import { readFileSync } from "node:fs";
import type { Subscription } from "../session/bus.ts";
import type { SubscriptionSpec } from "../config/events.ts";
import { body, isKind, type SessionEvent } from "../session/events.ts";
import type { BusJournal, JournalEntry } from "./journal.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import { logger } from "../util/log.ts";
import { TextBuilder } from "../util/text-builder.ts";
import { DurableQueue, type BusEventRecord, type Pending } from "./queue.ts";
import { writeFileAtomicSync } from "../util/atomic-file.ts";
import { globMatch } from "../util/glob.ts";

const log = logger("bus");

export const MAX_HOPS = 8;
const MAX_ATTEMPTS = 4;
const BACKOFF_MS = 500;
const DEAD_LETTERS_KEPT = 200;

export interface DeadLetter {
  event: BusEventRecord;
  targetAgent: string;
  reason: string;
  at: number;
  attempts: number;
}

export interface BusDeps {
  runtime: Pick<SessionRuntime, "startTurn" | "publishDaemonEvent" | "subscribeAll">;
  queueFile: string;
  /** The bus journal (journal.ts): what event-stream clients may replay after a cursor. */
  journal: BusJournal;
  deadFile: string;
  subscriptions(): SubscriptionSpec[];
  /** A `once` subscription delivered: the owner removes it from events.toml. */
  onOnce(sub: SubscriptionSpec): void;
}

const keyOf = (s: SubscriptionSpec) => `${s.source}\u2192${s.targetAgent}`;

export class EventBusService {
  private readonly queue: DurableQueue;
  private dead: DeadLetter[] = [];
  /** Sessions started by a delivery: their end event continues the chain. */
  private readonly origins = new Map<number, { hops: number; chain: string[] }>();
  /**
   * Final text so far per session, from observed events (the payload of
   * agent:<name>:done and session:<id>:end), kept only for turns whose end
   * a subscription matched when the turn started: otherwise nobody reads it,
   * and it is one more copy of every answer streamed (16 MB for a 16 MB
   * answer). A subscription added during a turn sees that turn's end with
   * an empty payload.
   */
  private readonly texts = new Map<number, TextBuilder | null>();
  private readonly attempts = new Map<string, number>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private seq = 0;
  private closed = false;

  constructor(private readonly deps: BusDeps) {
    this.queue = new DurableQueue(deps.queueFile);
    try {
      this.dead = JSON.parse(readFileSync(deps.deadFile, "utf8")) as DeadLetter[];
    } catch {
      this.dead = [];
    }
  }

  /** Delivers what a previous run left in the queue (after a crash or a stop). */
  resume(): void {
    const left = this.queue.list();
    if (left.length) log.info(`delivering ${left.length} event(s) left in the queue by the previous run`);
    for (const p of left) void this.deliver(p);
  }

  get queued(): number {
    return this.queue.size;
  }

  deadLetters(): DeadLetter[] {
    return this.dead;
  }

  /**
   * Publishes an event (`external`: from a client); when any subscription matches, it is durable (in the
   * queue, fsynced) when this returns. Returns the event's id.
   */
  publish(
    source: string,
    payload: string,
    origin: { hops: number; chain: string[] } = { hops: 0, chain: [] },
    external = false,
  ): string {
    const event: BusEventRecord = {
      id: `${Date.now().toString(36)}-${process.pid}-${++this.seq}`,
      source,
      payload,
      hops: origin.hops,
      chain: origin.chain,
      at: Date.now(),
    };
    const matched = this.deps.subscriptions().some((s) => globMatch(s.source, source));
    // Watchers see what the bus acts on, what clients publish and cron results (a gateway's notify follows those),
    // not every turn's end (they see those as end events).
    const turnEnd = /^(agent|session):/.test(source);
    if (matched || external || !turnEnd) {
      // Journaled (numbered, fsynced) before it is streamed: a client that saw seq N can resume after N.
      const seq = this.closed ? 0 : this.deps.journal.append({ ...event });
      this.deps.runtime.publishDaemonEvent(
        body("busEvent", { id: event.id, source, payload, hops: event.hops, chain: event.chain, seq }),
      );
    }
    if (!matched) return event.id;
    if (this.closed) {
      log.warn(`${source} published after the bus closed (shutdown); it is not delivered`);
      return event.id;
    }
    const p = this.queue.add(event);
    queueMicrotask(() => void this.deliver(p));
    return event.id;
  }

  /**
   * A SubscribeEvents stream that first replays the journal's bus events after `afterSeq`, then goes live.
   * The seam: subscribe first, then read the journal in the same tick (the journal is appended before an
   * event is streamed, and both happen in one synchronous publish), so the replay ends exactly where the
   * live events begin; a live bus event at or below the last replayed seq is skipped all the same. Live
   * events wait in the subscription while the replay is read. Trimmed seqs after the cursor are said in
   * a notice event first (and logged), never skipped silently.
   */
  follow(
    filter: Parameters<SessionRuntime["subscribeAll"]>[0],
    afterSeq: number,
  ): { events: AsyncIterable<SessionEvent>; close(): void } {
    const sub: Subscription = this.deps.runtime.subscribeAll(filter);
    // Bus events are daemon-wide (agent ""): a stream filtered to one agent never carries them.
    const replay = filter.agent === undefined ? this.deps.journal.after(afterSeq) : { events: [] };
    if (replay.lost) {
      const { from, to } = replay.lost;
      log.warn(
        `a client${filter.clientName ? ` (${filter.clientName})` : ""} asked for bus events after seq ${afterSeq}; seqs ${from}..${to} are older than the journal keeps and are lost to it`,
      );
    }
    const events = (async function* (): AsyncGenerator<SessionEvent> {
      let last = afterSeq;
      if (replay.lost) {
        const { from, to } = replay.lost;
        yield daemonEvent(
          body("notice", {
            source: "bus",
            level: "warn",
            message: `bus events ${from}..${to} are older than the journal keeps (the last 10,000 events or 7 days); they cannot be replayed`,
          }),
        );
      }
      for (const e of replay.events) {
        last = e.seq;
        yield daemonEvent(busBody(e), e.at);
      }
      for await (const e of sub) {
        if (e.body.kind === "busEvent" && e.body.data.seq <= last) continue;
        yield e;
      }
    })();
    return { events, close: () => sub.close() };
  }

  /** Runtime observer: turns' final text, and agent:<name>:done|failed and session:<id>:end at each turn's end. */
  observe(e: SessionEvent): void {
    if (e.session === 0) return;
    if (isKind(e, "start") || isKind(e, "toolStart"))
      this.texts.set(e.session, this.endWatched(e.agent, e.session) ? new TextBuilder() : null);
    else if (isKind(e, "chunk")) this.texts.get(e.session)?.append(e.body.data.content);
    else if (isKind(e, "end")) {
      const end = e.body.data;
      const text = this.texts.get(e.session)?.toString() ?? "";
      this.texts.delete(e.session);
      const origin = this.origins.get(e.session);
      this.origins.delete(e.session);
      const failed = end.stopReason === "error";
      const payload = failed ? end.error : text;
      this.publish(`agent:${end.agent || e.agent}:${failed ? "failed" : "done"}`, payload, origin);
      this.publish(`session:${e.session}:end`, payload, origin);
    }
  }

  /** Whether a subscription matches this session's end as a done event (the one whose payload is the text). */
  private endWatched(agent: string, session: number): boolean {
    const sources = [`agent:${agent}:done`, `session:${session}:end`];
    return this.deps.subscriptions().some((s) => sources.some((source) => globMatch(s.source, source)));
  }

  /** Events being delivered now: a retry never runs beside its own first try. */
  private readonly busy = new Set<string>();

  private async deliver(p: Pending): Promise<void> {
    if (this.closed || this.busy.has(p.event.id)) return;
    this.busy.add(p.event.id);
    try {
      await this.deliverOnce(p);
    } finally {
      this.busy.delete(p.event.id);
    }
  }

  private async deliverOnce(p: Pending): Promise<void> {
    const { event } = p;
    let retryIn = 0;
    for (const sub of this.deps.subscriptions()) {
      if (!globMatch(sub.source, event.source)) continue;
      const key = keyOf(sub);
      if (p.sent.has(key)) continue;
      const step = `${sub.targetAgent}@${event.source}`;
      if (event.hops + 1 > MAX_HOPS) {
        this.drop(p, sub, key, `hop limit: delivery would be hop ${event.hops + 1} (at most ${MAX_HOPS})`, 0);
        continue;
      }
      if (event.chain.includes(step)) {
        this.drop(p, sub, key, `loop: ${sub.targetAgent} is already on the chain with source ${event.source}`, 0);
        continue;
      }
      const content = sub.message
        ? sub.message.replaceAll("{payload}", event.payload).replaceAll("{source}", event.source)
        : event.payload || `(event ${event.source} with no payload)`;
      try {
        const { session } = await this.deps.runtime.startTurn(
          { agent: sub.targetAgent, content, sender: `event:${event.source}`, approver: { kind: "none" } },
          { interactive: false },
        );
        this.origins.set(session.id, { hops: event.hops + 1, chain: [...event.chain, step] });
        this.queue.markSent(event.id, key);
        log.info(`${event.source} -> ${sub.targetAgent}: turn started on session ${session.id}`);
        if (sub.once) this.deps.onOnce(sub);
      } catch (err) {
        const n = (this.attempts.get(`${event.id}|${key}`) ?? 0) + 1;
        this.attempts.set(`${event.id}|${key}`, n);
        const reason = (err as Error).message;
        if (n >= MAX_ATTEMPTS) {
          this.drop(p, sub, key, `the turn could not start after ${n} attempts: ${reason}`, n);
          continue;
        }
        log.warn(`${event.source} -> ${sub.targetAgent}: attempt ${n} failed (${reason}); retrying`);
        retryIn = Math.max(retryIn, BACKOFF_MS * 2 ** (n - 1));
      }
    }
    if (retryIn === 0) {
      this.queue.markDone(event.id);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.deliver(p);
    }, retryIn);
    this.timers.add(timer);
  }

  private drop(p: Pending, sub: SubscriptionSpec, key: string, reason: string, attempts: number): void {
    const chain = [...p.event.chain, `${sub.targetAgent}@${p.event.source}`].join(" -> ");
    log.warn(`dropped ${p.event.source} -> ${sub.targetAgent}: ${reason}; chain ${chain}`);
    this.dead.push({
      event: p.event,
      targetAgent: sub.targetAgent,
      reason: `${reason}; chain ${chain}`,
      at: Date.now(),
      attempts,
    });
    if (this.dead.length > DEAD_LETTERS_KEPT) this.dead.splice(0, this.dead.length - DEAD_LETTERS_KEPT);
    writeFileAtomicSync(this.deps.deadFile, JSON.stringify(this.dead));
    this.queue.markSent(p.event.id, key);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.queue.close();
    this.deps.journal.close();
  }
}

/** A daemon-wide event as publishDaemonEvent makes it (session 0, seq 0). */
function daemonEvent(b: SessionEvent["body"], ts = Date.now()): SessionEvent {
  return { agent: "", session: 0, seq: 0, turn: 0, ts, body: b };
}

function busBody(e: JournalEntry): SessionEvent["body"] {
  return body("busEvent", { id: e.id, source: e.source, payload: e.payload, hops: e.hops, chain: e.chain, seq: e.seq });
}
