/**
 * The session runtime: opens sessions (from memory or the store), queues
 * and runs turns, numbers and fans out every event, persists the trace,
 * handles cancel, approvals, budgets and compaction, and evicts idle
 * sessions so memory does not grow with the number on disk.
 *
 * Turns run independently of any client: a client that disconnects stops
 * receiving, the turn finishes and its result stays in the session.
 */
import type { Tool } from "../agent/types.ts";
import type { PermissionEngine } from "../agent/permissions.ts";
import type { StreamFn } from "../provider/types.ts";
import type { ListOptions, LoadedSession, SessionPage, SessionStore } from "../store/types.ts";
import { ErrorCode, WireError } from "../protocol/errors.ts";
import type { Init } from "../protocol/codec.ts";
import type { StreamEvent } from "../protocol/gen/crabtalk.ts";
import { EventBus, type SessionEvent, type Subscription } from "./bus.ts";
import { LiveSession, type TurnHandle } from "./live-session.ts";
import { Approvals } from "./approvals.ts";
import type { UsageLedger } from "./usage.ts";
import { eventKind } from "./wire.ts";
import { runTurn } from "./turn.ts";
import { compactSession, type CompactOutcome } from "./compact-session.ts";
import { logger } from "../util/log.ts";

const log = logger("runtime");

/** An agent as the runtime needs it, resolved from config. */
export interface AgentSpec {
  name: string;
  model: string;
  system?: string;
  /** The granted tools, built for the agent's cwd. */
  tools: Tool[];
  /** Every tool name that exists, granted or not. */
  knownTools: string[];
  maxIterations: number;
  thinking: boolean;
  maxTokensPerTurn?: number;
}

export interface RuntimeDeps {
  store: SessionStore;
  agent(name: string): AgentSpec | undefined;
  agentNames(): string[];
  /** Throws WireError 400 naming the configured models when none serves `model`. */
  streamFor(model: string): StreamFn;
  contextWindow(model: string): number;
  permissions: PermissionEngine;
  usage: UsageLedger;
  approvalTimeoutMs: number;
  /** Share of the context window that triggers compaction after a turn. */
  compactThreshold: number;
  /** Idle sessions are dropped from memory after this long (they stay on disk). */
  idleEvictMs?: number;
  /** Scrubs configured secrets from tool results before they reach history, the wire or a provider. */
  redact?: (text: string) => string;
}

export interface TurnRequest {
  agent: string;
  content: string;
  session?: number;
  sender: string;
  /** Whether the requester can answer approval prompts. */
  interactive: boolean;
}

/** How long kill waits for a cancelled turn to finish writing before dropping the session. */
const KILL_SETTLE_MS = 10_000;

/** Sessions kept in memory at most; the least recently used idle ones go first. */
const MAX_LIVE_SESSIONS = 256;

export class SessionRuntime {
  readonly bus = new EventBus();
  readonly approvals = new Approvals();
  private readonly live = new Map<number, LiveSession>();
  private readonly opening = new Map<number, Promise<LiveSession>>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private shuttingDown = false;

  constructor(readonly deps: RuntimeDeps) {
    this.sweeper = setInterval(() => this.evictIdle(), 30_000);
    this.sweeper.unref?.();
  }

  get liveCount(): number {
    return this.live.size;
  }

  runningTurns(): number {
    let n = 0;
    for (const s of this.live.values()) if (s.running) n++;
    return n;
  }

  isLive(id: number): { live: boolean; running: boolean } {
    const s = this.live.get(id);
    return { live: s !== undefined, running: s?.running != null };
  }

  /** The session if it is in memory now (never loads). */
  liveSession(id: number): LiveSession | undefined {
    return this.live.get(id);
  }

  /** A live session, loaded from the store if needed; 404 for an unknown id. */
  async open(id: number): Promise<LiveSession> {
    const existing = this.live.get(id);
    if (existing) return existing;
    let opening = this.opening.get(id);
    if (!opening) {
      opening = this.load(id).finally(() => this.opening.delete(id));
      this.opening.set(id, opening);
    }
    return opening;
  }

  /**
   * A page of sessions from the store, after every live session's queued
   * appends are written: a client that has seen a turn end then sees its
   * messages and tokens counted in the listing.
   */
  async listSessions(opts: ListOptions): Promise<SessionPage> {
    await Promise.all([...this.live.values()].map((s) => s.flushTrace()));
    return this.deps.store.list(opts);
  }

  /**
   * Reads a session from the store without making it live; 404 for an
   * unknown id. Every reader of the store goes through here because the
   * store hands a torn last line to exactly one load: whichever load that
   * is (a history request or a resume) must report it. A live session's
   * queued appends are flushed first, so a reader sees every message of a
   * turn whose end it has already received.
   */
  async loadStored(id: number): Promise<LoadedSession> {
    await this.live.get(id)?.flushTrace();
    const loaded = await this.deps.store.load(id);
    if (!loaded)
      throw new WireError(ErrorCode.NotFound, `session ${id} not found; list sessions with \`crabtalk sessions\``);
    if (loaded.tornLine)
      log.warn(
        `session ${id}: ignored a torn last line (${loaded.tornLine.bytes} bytes at offset ${loaded.tornLine.offset}: ${JSON.stringify(loaded.tornLine.preview)}), left by a crash`,
      );
    if (loaded.corruptLines > 0) log.warn(`session ${id}: skipped ${loaded.corruptLines} unreadable line(s)`);
    return loaded;
  }

  private async load(id: number): Promise<LiveSession> {
    const loaded = await this.loadStored(id);
    const session = new LiveSession(
      id,
      loaded.meta.agent,
      loaded.meta.createdBy,
      loaded.messages,
      loaded.lastSeq,
      this.deps.store,
    );
    if (loaded.interruptedTurn) {
      log.warn(
        `session ${id}: the turn started at seq ${loaded.interruptedTurn.turnSeq} was cut off by a crash; marked interrupted`,
      );
      await session.append([
        { kind: "interrupted", turnSeq: loaded.interruptedTurn.turnSeq, reason: "the daemon stopped during this turn" },
      ]);
    }
    this.live.set(id, session);
    this.evictOverflow();
    return session;
  }

  private async create(agent: string, sender: string): Promise<LiveSession> {
    const summary = await this.deps.store.create({ agent, createdBy: sender });
    const session = new LiveSession(summary.id, agent, sender, [], 0, this.deps.store);
    this.live.set(summary.id, session);
    this.evictOverflow();
    return session;
  }

  private stamp(session: LiveSession, turn: number, init: Init<StreamEvent>): SessionEvent {
    const seq = ++session.seq;
    const ts = Date.now();
    return {
      agent: session.agent,
      session: session.id,
      seq,
      turn,
      ts,
      kind: eventKind(init),
      event: { ...init, seq, session: session.id, timestampMs: ts },
    };
  }

  /** Numbers an event, publishes it to every subscriber and traces it. */
  emit(session: LiveSession, turn: number, init: Init<StreamEvent>): SessionEvent {
    const event = this.stamp(session, turn, init);
    session.traceEvent(event);
    this.bus.publish(event);
    return event;
  }

  /**
   * Like emit, but publishes only once the event and everything traced
   * before it (the turn's messages) are in the store. A turn's end goes
   * out this way: a client that saw StreamEnd may count on the answer
   * surviving a kill -9 (published first, 9 kills in 17 lost the answer).
   */
  async emitDurable(session: LiveSession, turn: number, init: Init<StreamEvent>): Promise<SessionEvent> {
    const event = this.stamp(session, turn, init);
    session.traceEvent(event);
    await session.flushTrace();
    this.bus.publish(event);
    return event;
  }

  /**
   * Queues a turn and returns a subscription to exactly that turn's events
   * (start to end). The subscription exists before the turn can start, so
   * nothing is missed.
   */
  async startTurn(req: TurnRequest): Promise<{ session: LiveSession; turn: TurnHandle; events: Subscription }> {
    if (this.shuttingDown)
      throw new WireError(ErrorCode.ShuttingDown, "the daemon is shutting down; retry once it is back");
    if (!req.content.trim())
      throw new WireError(ErrorCode.BadRequest, "empty message: content must hold the text to send to the agent");
    let session: LiveSession;
    let spec: AgentSpec | undefined;
    if (req.session) {
      session = await this.open(req.session);
      if (req.agent && req.agent !== session.agent) {
        throw new WireError(
          ErrorCode.Conflict,
          `session ${session.id} belongs to agent "${session.agent}", not "${req.agent}"; leave agent empty or use ${session.agent}`,
        );
      }
      spec = this.deps.agent(session.agent);
      if (!spec)
        throw new WireError(
          ErrorCode.NotFound,
          `agent "${session.agent}" of session ${session.id} is no longer configured; add [agents.${session.agent}] back to crabtalk.toml`,
        );
      this.checkTurnAllowed(spec);
    } else {
      const name = req.agent || "crab";
      spec = this.deps.agent(name);
      if (!spec)
        throw new WireError(
          ErrorCode.NotFound,
          `unknown agent "${name}"; configured agents: ${this.deps.agentNames().join(", ")}`,
        );
      this.checkTurnAllowed(spec);
      session = await this.create(name, req.sender);
    }
    const agentSpec = spec;
    const turn: TurnHandle = {
      startSeq: undefined,
      abort: new AbortController(),
      interactive: req.interactive,
      sender: req.sender,
    };
    const events = this.bus.subscribe({ session: session.id, turnRef: turn, interactive: req.interactive });
    session.lastUsed = Date.now();
    void session
      .enqueue(turn, async () => {
        await runTurn(this, session, agentSpec, turn, req.content);
        // A cancelled turn is not followed by an automatic compaction: the user asked for the session to stop.
        if (!turn.abort.signal.aborted) await this.maybeCompact(session, agentSpec.model, turn.abort.signal);
      })
      .catch((err: unknown) => log.error(`session ${session.id}: turn failed outside the loop:`, err))
      // A turn dropped from the queue (kill, shutdown) or dead before its end event would leave its requester waiting for ever; after an end this is a no-op for the reader.
      .finally(() => events.fail(this.notRun(session, turn)));
    return { session, turn, events };
  }

  private notRun(session: LiveSession, turn: TurnHandle): WireError {
    if (turn.startSeq !== undefined)
      return new WireError(
        ErrorCode.Internal,
        `the turn on session ${session.id} failed before it ended; see the daemon log`,
      );
    if (this.shuttingDown)
      return new WireError(ErrorCode.ShuttingDown, "the daemon is shutting down; the queued turn was not run");
    return new WireError(
      ErrorCode.Conflict,
      `session ${session.id} was killed before this turn started; send it again`,
    );
  }

  /** Refuses a turn before anything is created: model not routable, daily budget spent. */
  private checkTurnAllowed(spec: AgentSpec): void {
    this.deps.streamFor(spec.model);
    this.checkBudget();
  }

  checkBudget(): void {
    const { usage } = this.deps;
    const remaining = usage.remainingToday();
    if (remaining !== undefined && remaining <= 0) {
      const resets = new Date(usage.resetsAt());
      throw new WireError(
        ErrorCode.BudgetExceeded,
        `daily token budget of ${usage.dailyLimit} tokens is spent (${usage.usedToday()} used today); it resets at local midnight, ${resets.toString()}`,
      );
    }
  }

  private async maybeCompact(session: LiveSession, model: string, signal: AbortSignal): Promise<void> {
    const window = this.deps.contextWindow(model);
    if (session.lastPromptTokens <= window * this.deps.compactThreshold) return;
    log.info(
      `session ${session.id}: prompt of ${session.lastPromptTokens} tokens passed ${Math.round(this.deps.compactThreshold * 100)}% of ${window}; compacting`,
    );
    const result = await compactSession(this, session, model, signal);
    if (!result.ok) log.warn(`session ${session.id}: automatic compaction failed: ${result.message}`);
  }

  /** Compacts on request, after any running turn; throws WireError 502 when summarizing fails. */
  async compact(id: number): Promise<{ tokensBefore: number; tokensAfter: number }> {
    const session = await this.open(id);
    const spec = this.deps.agent(session.agent);
    if (!spec) throw new WireError(ErrorCode.NotFound, `agent "${session.agent}" is not configured`);
    const box: { outcome: CompactOutcome } = {
      outcome: { ok: false, message: "the session was killed before compaction ran" },
    };
    const turn: TurnHandle = {
      startSeq: undefined,
      abort: new AbortController(),
      interactive: false,
      sender: "compact",
    };
    await session.enqueue(turn, async () => {
      box.outcome = await compactSession(this, session, spec.model, turn.abort.signal);
    });
    const outcome = box.outcome;
    if (!outcome.ok)
      throw new WireError(ErrorCode.ProviderFailed, `compaction failed, history unchanged: ${outcome.message}`);
    return { tokensBefore: outcome.tokensBefore, tokensAfter: outcome.tokensAfter };
  }

  /** Stops the turn in flight; the session stays. Returns whether a turn was running. */
  cancel(id: number): boolean {
    const s = this.live.get(id);
    if (!s?.running) return false;
    s.running.abort.abort(new Error("cancelled by a client"));
    return true;
  }

  /** Ends a live session (cancels its turns, drops it from memory); its file stays. */
  async kill(id: number): Promise<boolean> {
    const s = this.live.get(id);
    if (!s) return await this.deps.store.exists(id);
    s.killed = true;
    for (const t of s.queued) t.abort.abort(new Error("session killed"));
    s.running?.abort.abort(new Error("session killed"));
    // Wait for the cancelled turn to write its last records: a request that reloads the session
    // from disk right after must not race the old turn's trailing appends. Bounded: a tool that
    // ignores its abort signal must not hold the kill forever.
    await Promise.race([s.settled(), Bun.sleep(KILL_SETTLE_MS)]);
    await s.flushTrace();
    if (this.live.get(id) === s) this.live.delete(id);
    return true;
  }

  async delete(id: number): Promise<boolean> {
    await this.kill(id);
    return await this.deps.store.delete(id);
  }

  private evictIdle(): void {
    const idleMs = this.deps.idleEvictMs ?? 5 * 60_000;
    const now = Date.now();
    for (const [id, s] of this.live) {
      if (!s.busy && now - s.lastUsed > idleMs && !this.bus.hasClientOn(id)) {
        void s.flushTrace();
        this.live.delete(id);
      }
    }
  }

  private evictOverflow(): void {
    if (this.live.size <= MAX_LIVE_SESSIONS) return;
    const idle = [...this.live.values()]
      .filter((s) => !s.busy && !this.bus.hasClientOn(s.id))
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const s of idle.slice(0, this.live.size - MAX_LIVE_SESSIONS)) {
      void s.flushTrace();
      this.live.delete(s.id);
    }
  }

  /** Stops new turns, waits up to graceMs for running ones, cancels the rest, flushes the trace; `close()` follows. */
  async shutdown(graceMs: number): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.sweeper);
    const busy = () => [...this.live.values()].filter((s) => s.busy);
    const deadline = Date.now() + graceMs;
    while (busy().length > 0 && Date.now() < deadline) await Bun.sleep(50);
    const left = busy();
    if (left.length > 0) {
      log.warn(`cancelling ${left.length} turn(s) still running after the ${graceMs} ms grace period`);
      for (const s of left) {
        for (const t of s.queued) t.abort.abort(new Error("daemon shutting down"));
        s.running?.abort.abort(new Error("daemon shutting down"));
      }
      const hard = Date.now() + 5000;
      while (busy().length > 0 && Date.now() < hard) await Bun.sleep(20);
    }
    await Promise.all([...this.live.values()].map((s) => s.flushTrace()));
  }

  /** After shutdown and after clients are gone: makes everything durable and closes the store. */
  async close(): Promise<void> {
    await Promise.all([...this.live.values()].map((s) => s.flushTrace()));
    await this.deps.store.close();
  }
}
