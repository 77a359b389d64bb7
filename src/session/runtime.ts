/**
 * The session runtime: opens sessions (from memory or the store), queues
 * and runs turns, numbers and fans out every event, persists the trace,
 * handles cancel, approvals, budgets and compaction, and evicts idle
 * sessions so memory does not grow with the number on disk.
 *
 * What is built once (store, bus, usage ledger, tool registry, hooks) is
 * split from what a config builds (agents, providers, permissions, limits:
 * `RuntimeSettings`), which `reconfigure` swaps between turns; a turn keeps
 * the settings it started with, except permissions and the approval
 * timeout, read per call.
 *
 * Turns run independently of any client: a client that disconnects stops
 * receiving, the turn finishes and its result stays in the session.
 */
import type { EncodedPrefix, Message } from "../provider/types.ts";
import type { ListOptions, LoadedSession, SearchHit, SessionPage, SessionStore } from "../store/types.ts";
import { ToolRegistry } from "../tools/registry.ts";
import { AgentBuilder, type GrantReport } from "./agent-builder.ts";
import { logger } from "../util/log.ts";
import { Semaphore } from "../util/semaphore.ts";
import { collectAnswer, type TurnAnswer } from "./answer.ts";
import { Approvals } from "./approvals.ts";
import { attachSession, type Attachment } from "./attach.ts";
import { EventBus, type Approver, type EventFilter, type Subscription } from "./bus.ts";
import { compactSession, type CompactOutcome } from "./compact-session.ts";
import { SessionError } from "./errors.ts";
import { body, type EventBody, type SessionEvent } from "./events.ts";
import { HookHub, type HookFailure } from "./hooks.ts";
import { LivePool } from "./live-pool.ts";
import { LiveSession, type TurnHandle } from "./live-session.ts";
import { type OpenedTurn, TurnOpener } from "./opening.ts";
import { Publisher } from "./publisher.ts";
import { modelOf, readHistory, reportRepairs, resumeLive, sessionNotFound } from "./resume.ts";
import type { AgentSpec, RuntimeSettings } from "./settings.ts";
import { runTurn, type BuiltAgent, type TurnEnv } from "./turn.ts";
import type { UsageLedger } from "./usage.ts";

const log = logger("runtime");

/** What the runtime is built on once, whatever the config says. */
export interface RuntimeCore {
  store: SessionStore;
  usage: UsageLedger;
  /** Idle sessions are dropped from memory after this long (they stay on disk). */
  idleEvictMs?: number;
  /** Characters of history idle live sessions keep in memory in all (see live-pool.ts). */
  idleHistoryChars?: number;
}

/** A turn about to be queued: its session, agent and content, and what was begun for it already. */
interface PlannedTurn {
  session: LiveSession;
  spec: AgentSpec;
  content: string;
  /** The agent, when it was built before the turn was queued. */
  agent?: Promise<BuiltAgent>;
  /** Its start and question, when the store wrote them during the session's resume. */
  opened?: OpenedTurn;
}

export interface TurnRequest {
  agent: string;
  content: string;
  session?: number;
  sender: string;
  /** Who may answer approval prompts of this turn (see bus.ts). */
  approver: Approver;
  /** Tokens this turn may spend at most, below the agent's own cap (what its delegating root has left). */
  tokenCap?: number;
}

/** A turn run to its end: what `send` answers. */
/** How long kill waits for a cancelled turn to finish writing before dropping the session. */
const KILL_SETTLE_MS = 10_000;

export class SessionRuntime {
  readonly bus = new EventBus();
  readonly approvals = new Approvals();
  readonly registry = new ToolRegistry();
  readonly hooks: HookHub;
  readonly store: SessionStore;
  readonly usage: UsageLedger;
  private readonly publisher: Publisher;
  private readonly env: TurnEnv;
  private readonly toolSlots: Semaphore;
  private current: RuntimeSettings;
  private readonly builder: AgentBuilder;
  private readonly live: LivePool;
  private readonly opening = new Map<number, Promise<LiveSession>>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private shuttingDown = false;
  /**
   * Rewrites a user message before its turn is queued (skills' `/name`
   * expansion): one built-in seam, not a hook, because it may refuse the
   * turn (a SessionError thrown here reaches the requester) and because two
   * rewriters would have no defined order. What it returns is the message
   * the turn runs and the history keeps.
   */
  expandInput?: (agent: string, content: string) => Promise<string>;

  constructor(core: RuntimeCore, settings: RuntimeSettings) {
    this.store = core.store;
    this.usage = core.usage;
    this.current = settings;
    this.usage.dailyLimit = settings.dailyTokens;
    this.toolSlots = new Semaphore(settings.tools.maxConcurrent);
    this.hooks = new HookHub((f) => this.reportHookFailure(f));
    this.publisher = new Publisher(this.bus, this.hooks);
    this.builder = new AgentBuilder(this.registry, this.hooks);
    this.env = {
      settings: () => this.current,
      publisher: this.publisher,
      bus: this.bus,
      approvals: this.approvals,
      usage: this.usage,
      hooks: this.hooks,
      toolSlots: this.toolSlots,
    };
    this.live = new LivePool({
      hasClientOn: (id) => this.bus.hasClientOn(id),
      ...(core.idleEvictMs !== undefined ? { idleEvictMs: core.idleEvictMs } : {}),
      ...(core.idleHistoryChars !== undefined ? { idleHistoryChars: core.idleHistoryChars } : {}),
    });
    this.sweeper = setInterval(() => this.live.sweep(), 30_000);
    this.sweeper.unref?.();
  }

  get settings(): RuntimeSettings {
    return this.current;
  }

  /**
   * Applies new settings: turns that start from now on use them; turns in
   * flight finish on what they started with (permissions and the approval
   * timeout apply from their next call).
   */
  reconfigure(settings: RuntimeSettings): void {
    this.current = settings;
    this.builder.invalidate();
    this.usage.dailyLimit = settings.dailyTokens;
    this.toolSlots.setLimit(settings.tools.maxConcurrent);
  }

  agent(name: string): AgentSpec | undefined {
    return this.current.agents.get(name);
  }

  agentNames(): string[] {
    return [...this.current.agents.keys()];
  }

  /** Each agent's grants and the tools each resolves to now (for status and `crabtalk agents`). */
  grantReport(): GrantReport[] {
    return this.builder.grantReport(this.current.agents.values());
  }

  /** Grants that match no tool that exists now: warned at start (a server may still bring them). */
  emptyGrants(): { agent: string; grant: string }[] {
    return this.grantReport().flatMap((a) =>
      a.grants.filter((g) => g.tools.length === 0 && g.grant !== "*").map((g) => ({ agent: a.agent, grant: g.grant })),
    );
  }

  /** The agent as its next turn runs it (see agent-builder.ts). */
  buildAgent(spec: AgentSpec): Promise<BuiltAgent> {
    return this.builder.build(spec, () => this.current.agents.get(spec.name));
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

  /**
   * A live session, loaded from the store if needed; not_found for an unknown id. `opener` goes to the
   * store's resume when this call loads it (see onStored).
   */
  async open(id: number, opener?: TurnOpener): Promise<LiveSession> {
    const existing = this.live.get(id);
    if (existing) return existing;
    let opening = this.opening.get(id);
    if (!opening) {
      opening = this.load(id, opener).finally(() => this.opening.delete(id));
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
    await this.live.flushAll();
    return this.store.list(opts);
  }

  /**
   * Reads a session from the store without making it live. Every reader of
   * the store goes through here because the store hands a torn last line
   * to exactly one load: whichever load that is must report it. A live
   * session's queued appends are flushed first, so a reader sees every
   * message of a turn whose end it has already received.
   */
  async loadStored(id: number): Promise<LoadedSession> {
    await this.live.get(id)?.flushTrace();
    return reportRepairs(id, await this.store.load(id));
  }

  /** The start seq of the turn running on a session now, 0 when none (for links from work it spawns). */
  runningTurnOf(id: number): number {
    return this.live.get(id)?.running?.startSeq ?? 0;
  }

  /** BM25 over every session's user and assistant text, after live sessions' pending appends. */
  async search(query: string, limit: number): Promise<SearchHit[]> {
    await this.live.flushAll();
    return this.store.search(query, { limit });
  }

  /** Follows a session from `afterSeq` (see attach.ts). */
  attach(id: number, afterSeq: number | undefined, filter: Omit<EventFilter, "session"> = {}): Promise<Attachment> {
    return attachSession({ store: this.store, bus: this.bus, live: (s) => this.live.get(s) }, id, afterSeq, filter);
  }

  /** Every event of every session (or one agent's), live. */
  subscribeAll(filter: Pick<EventFilter, "agent" | "clientName" | "interactive">): Subscription {
    return this.bus.subscribe(filter);
  }

  /**
   * The JSON `agent`'s provider sends for `history`, for the store to keep
   * with a resume checkpoint (JsonlStoreOptions.requestPrefix); undefined
   * when the agent or its model is gone or the provider keeps none.
   */
  requestPrefix(agent: string, history: readonly Message[]): EncodedPrefix | undefined {
    const routed = modelOf(this.current, agent);
    return routed?.stream.exportPrefix?.(routed.model, history);
  }

  /** Makes a stored session live (see resume.ts; a live one is never loaded here). */
  private async load(id: number, opener?: TurnOpener): Promise<LiveSession> {
    const session = await resumeLive(this.store, () => this.current, id, opener);
    this.live.add(session);
    return session;
  }

  private async create(agent: string, sender: string): Promise<LiveSession> {
    const summary = await this.store.create({ agent, createdBy: sender });
    const session = new LiveSession(summary.id, agent, sender, [], 0, this.store);
    this.live.add(session);
    return session;
  }

  /**
   * Queues a turn and returns a subscription to exactly that turn's events
   * (start to end). The subscription exists before the turn can start, so
   * nothing is missed.
   */
  async startTurn(
    req: TurnRequest,
    listener: Pick<EventFilter, "interactive" | "clientName"> = {},
  ): Promise<{ session: LiveSession; turn: TurnHandle; events: Subscription }> {
    if (this.shuttingDown)
      throw new SessionError("shutting_down", "the daemon is shutting down; retry once it is back");
    if (!req.content.trim())
      throw new SessionError("bad_request", "empty message: content must hold the text to send to the agent");
    const planned = req.session ? await this.onStored(req, req.session) : await this.onNew(req);
    const { session, spec: agentSpec, content, opened } = planned;
    const turn: TurnHandle = {
      startSeq: undefined,
      abort: new AbortController(),
      approver: req.approver,
      sender: req.sender,
      ...(req.tokenCap !== undefined ? { tokenCap: req.tokenCap } : {}),
    };
    const events = this.bus.subscribe({
      session: session.id,
      turnRef: turn,
      // The requester answers prompts when it is the approver: "requester", or "client:<name>" on a stream named <name>.
      interactive:
        listener.interactive ??
        (req.approver.kind === "requester" ||
          (req.approver.kind === "client" && req.approver.name === listener.clientName)),
      ...(listener.clientName ? { clientName: listener.clientName } : {}),
    });
    session.lastUsed = Date.now();
    void session
      .enqueue(turn, async () => {
        // Built while the history is read back, if it was released, and while the question is written.
        const agent = planned.agent ?? this.startBuild(agentSpec);
        await this.restoreHistory(session);
        const outcome = await runTurn(this.env, session, turn, {
          spec: agentSpec,
          agent,
          content,
          ...(opened ? { opened } : {}),
        });
        if (!outcome.ok) {
          // Memory holds what the disk refused: reload from disk next time, so both agree.
          log.error(`session ${session.id}: ${outcome.storageError.message}; it will be reloaded from disk`);
          this.live.remove(session);
          return;
        }
        // A history a resume left unbuilt is built only for what needs its messages: an afterRun hook (given
        // it here), a compaction, or a rest grown long enough to be worth encoding once (see LiveSession).
        if (this.hooks.handles("afterRun")) {
          const { system } = await agent;
          void this.hooks.afterRun({
            agent: session.agent,
            session: session.id,
            history: session.history.slice(),
            ...(system !== undefined ? { system } : {}),
          });
        }
        session.buildWhenLong();
        // A cancelled turn is not followed by an automatic compaction: the user asked for the session to stop.
        if (!turn.abort.signal.aborted) await this.maybeCompact(session, agentSpec.model, turn.abort.signal);
      })
      .catch((err: unknown) => log.error(`session ${session.id}: turn failed outside the loop:`, err))
      // A turn dropped from the queue (kill, shutdown) or dead before its end event would leave its requester waiting for ever; after an end this is a no-op for the reader.
      .finally(() => {
        events.fail(this.notRun(session, turn));
        this.live.trimHistories();
      });
    return { session, turn, events };
  }

  /**
   * The session a turn on stored session `id` runs on, its agent checked and
   * its content expanded. One not in memory is checked against the store's
   * summary first, so the store may write the turn's opening while it reads
   * the session (opening.ts); its agent is built meanwhile, as no turn of it
   * can be queued ahead of this one.
   */
  private async onStored(req: TurnRequest, id: number): Promise<PlannedTurn> {
    const inMemory = () => this.live.get(id) !== undefined || this.opening.has(id);
    if (!inMemory()) {
      const summary = await this.store.summary(id);
      if (!summary) throw sessionNotFound(id);
      const checked = await this.checkedTurn(id, summary.agent, req);
      // Made live meanwhile by another request: its turns may be queued ahead of this one.
      if (!inMemory()) {
        const opener = new TurnOpener(summary.agent, id, req.sender, checked.content);
        const agent = this.startBuild(checked.spec);
        const session = await this.open(id, opener);
        return { session, ...checked, agent, ...(opener.opened ? { opened: opener.opened } : {}) };
      }
    }
    const session = await this.open(id);
    return { session, ...(await this.checkedTurn(id, session.agent, req)) };
  }

  /** A new session for the turn, its agent built while the session's file is created. */
  private async onNew(req: TurnRequest): Promise<PlannedTurn> {
    const name = req.agent || "crab";
    const spec = this.agent(name);
    if (!spec)
      throw new SessionError(
        "not_found",
        `unknown agent "${name}"; configured agents: ${this.agentNames().join(", ")}`,
      );
    this.checkTurnAllowed(spec);
    const content = await this.expand(spec, req.content);
    const agent = this.startBuild(spec);
    return { session: await this.create(name, req.sender), spec, content, agent };
  }

  /** The checks a turn on a session of `agent` passes before anything is written, and its content expanded. */
  private async checkedTurn(
    id: number,
    agent: string,
    req: TurnRequest,
  ): Promise<{ spec: AgentSpec; content: string }> {
    if (req.agent && req.agent !== agent)
      throw new SessionError(
        "conflict",
        `session ${id} belongs to agent "${agent}", not "${req.agent}"; leave agent empty or use ${agent}`,
      );
    const spec = this.agent(agent);
    if (!spec)
      throw new SessionError(
        "not_found",
        `agent ${agent} was removed from the config; session ${id} is kept on disk and answers again once [agents.${agent}] is back in crabtalk.toml`,
      );
    this.checkTurnAllowed(spec);
    return { spec, content: await this.expand(spec, req.content) };
  }

  /**
   * The agent being built for a turn, awaited by the turn before its first model call (TurnPlan.agent). A
   * failed build fails the turn that awaits it; one nobody awaits (a turn dropped from its queue, or whose
   * history could not be read back) is no unhandled rejection.
   */
  private startBuild(spec: AgentSpec): Promise<BuiltAgent> {
    const building = this.buildAgent(spec);
    building.catch(() => undefined);
    return building;
  }

  /** Runs a turn to its end and returns the final answer; a failed turn throws its error. */
  async ask(req: TurnRequest, signal?: AbortSignal): Promise<TurnAnswer> {
    const { session, events } = await this.startTurn(req, { interactive: false });
    return collectAnswer(session, events, signal);
  }

  private notRun(session: LiveSession, turn: TurnHandle): SessionError {
    if (turn.startSeq !== undefined)
      return new SessionError(
        "internal",
        `the turn on session ${session.id} failed before it ended; see the daemon log`,
      );
    if (this.shuttingDown)
      return new SessionError("shutting_down", "the daemon is shutting down; the queued turn was not run");
    return new SessionError("conflict", `session ${session.id} was killed before this turn started; send it again`);
  }

  private async expand(spec: AgentSpec, content: string): Promise<string> {
    return this.expandInput ? await this.expandInput(spec.name, content) : content;
  }

  /** Refuses a turn before anything is created: model not routable, daily budget spent. */
  private checkTurnAllowed(spec: AgentSpec): void {
    this.current.streamFor(spec.model);
    this.checkBudget();
  }

  checkBudget(): void {
    const { usage } = this;
    const remaining = usage.remainingToday();
    if (remaining !== undefined && remaining <= 0) {
      const resets = new Date(usage.resetsAt());
      throw new SessionError(
        "budget_exceeded",
        `daily token budget of ${usage.dailyLimit} tokens is spent (${usage.usedToday()} used today); it resets at local midnight, ${resets.toString()}`,
      );
    }
  }

  private async maybeCompact(session: LiveSession, model: string, signal: AbortSignal): Promise<void> {
    const window = this.current.contextWindow(model);
    const threshold = this.current.compactThreshold;
    if (session.lastPromptTokens <= window * threshold) return;
    log.info(
      `session ${session.id}: prompt of ${session.lastPromptTokens} tokens passed ${Math.round(threshold * 100)}% of ${window}; compacting`,
    );
    const result = await compactSession(this.env, session, model, signal);
    if (!result.ok) log.warn(`session ${session.id}: automatic compaction failed: ${result.message}`);
  }

  /** Compacts on request, after any running turn; provider_failed when summarizing fails. */
  async compact(id: number): Promise<{ tokensBefore: number; tokensAfter: number }> {
    const session = await this.open(id);
    const spec = this.agent(session.agent);
    if (!spec) throw new SessionError("not_found", `agent "${session.agent}" is not configured`);
    const box: { outcome: CompactOutcome } = {
      outcome: { ok: false, message: "the session was killed before compaction ran" },
    };
    const turn: TurnHandle = {
      startSeq: undefined,
      abort: new AbortController(),
      approver: { kind: "none" },
      sender: "compact",
    };
    await session.enqueue(turn, async () => {
      await this.restoreHistory(session);
      box.outcome = await compactSession(this.env, session, spec.model, turn.abort.signal);
    });
    this.live.trimHistories();
    const outcome = box.outcome;
    if (!outcome.ok)
      throw new SessionError("provider_failed", `compaction failed, history unchanged: ${outcome.message}`);
    return { tokensBefore: outcome.tokensBefore, tokensAfter: outcome.tokensAfter };
  }

  /** Stops the turn in flight; the session stays. Returns whether a turn was running. */
  cancel(id: number): boolean {
    const s = this.live.get(id);
    if (!s?.running) return false;
    s.running.abort.abort(new Error("cancelled by a client"));
    return true;
  }

  /** Answers a waiting approval of `session`; false when none with that call id waits there. */
  approve(session: number, callId: string, allow: boolean, reason?: string): boolean {
    return this.approvals.answer(callId, allow, reason, session);
  }

  /** Ends a live session (cancels its turns, drops it from memory); its file stays. */
  async kill(id: number): Promise<boolean> {
    const s = this.live.get(id);
    if (!s) return await this.store.exists(id);
    s.killed = true;
    for (const t of s.queued) t.abort.abort(new Error("session killed"));
    s.running?.abort.abort(new Error("session killed"));
    // Wait for the cancelled turn to write its last records: a request that reloads the session
    // from disk right after must not race the old turn's trailing appends. Bounded: a tool that
    // ignores its abort signal must not hold the kill forever.
    await Promise.race([s.settled(), Bun.sleep(KILL_SETTLE_MS)]);
    await s.flushTrace();
    this.live.remove(s);
    return true;
  }

  async delete(id: number): Promise<boolean> {
    await this.kill(id);
    return await this.store.delete(id);
  }

  /** Reads a released history back before work that uses it (see LiveSession.restoreHistory). */
  private async restoreHistory(session: LiveSession): Promise<void> {
    await session.restoreHistory(() => readHistory(this.store, session.id));
  }

  /**
   * A daemon-wide event (session 0, seq 0): reaches `SubscribeEvents`
   * streams and observers, never a session's trace or its attached clients.
   */
  publishDaemonEvent(b: EventBody): void {
    const event: SessionEvent = { agent: "", session: 0, seq: 0, turn: 0, ts: Date.now(), body: b };
    this.bus.publish(event);
    this.hooks.observe(event);
  }

  /** A hook that failed: the log says so, and so does the trace of the session it concerned (when it is live). */
  private reportHookFailure(f: HookFailure): void {
    log.warn(`hook ${f.hook} failed in ${f.stage}: ${f.message}; the turn went on without it`);
    const s = f.session !== undefined ? this.live.get(f.session) : undefined;
    if (!s) return;
    const message = `${f.stage} failed: ${f.message}; the turn went on without it`;
    this.publisher.emit(s, f.turn ?? 0, body("notice", { source: f.hook, level: "warn", message }));
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
    await this.live.flushAll();
  }

  /** After shutdown and after clients are gone: makes everything durable and closes the store. */
  async close(): Promise<void> {
    await this.live.flushAll();
    await this.store.close();
    this.usage.close();
  }
}
