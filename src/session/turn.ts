/**
 * One turn of a session: publishes its start, appends the user message,
 * runs the before-run hooks, drives the agent loop (once the user message
 * is written: the store has it before any model call), and turns every loop
 * event into a numbered, traced, published event; history messages are
 * appended as each one completes, usage is booked per model call. It sees
 * the runtime only through `TurnEnv`, a narrow context, so the runtime can
 * own turns without the two importing each other.
 *
 * Ordering: an approval request is published only after the ToolStart that
 * announces its call (the loop's events are consumed in order; the
 * approval waits for its call to be announced).
 */
import { runAgent } from "../agent/loop.ts";
import type { Authorization, LoopEvent, ToolSource } from "../agent/types.ts";
import type { EncodedPrefix, Message, StreamFn, ToolCall } from "../provider/types.ts";
import type { ResolvedTools } from "../tools/registry.ts";
import type { Semaphore } from "../util/semaphore.ts";
import type { Approvals } from "./approvals.ts";
import type { EventBus } from "./bus.ts";
import { body, type EventBody } from "./events.ts";
import type { HookHub } from "./hooks.ts";
import type { LiveSession, TurnHandle, UnbuiltHistory } from "./live-session.ts";
import { type OpenedTurn, question, startBody } from "./opening.ts";
import type { Publisher } from "./publisher.ts";
import type { AgentSpec, RuntimeSettings } from "./settings.ts";
import type { UsageLedger } from "./usage.ts";
import { loopEventToBody } from "./loop-events.ts";

/** Events handled between visits to the event loop (see the loop below). */
const YIELD_EVERY = 256;

/** What a turn needs from the runtime. */
export interface TurnEnv {
  /** The current settings (permissions and the approval timeout are read per call from here). */
  settings(): RuntimeSettings;
  publisher: Publisher;
  bus: EventBus;
  approvals: Approvals;
  usage: UsageLedger;
  hooks: HookHub;
  toolSlots: Semaphore;
}

/** An agent as one turn runs it: its spec from the settings snapshot, its prompt with hook additions, its tools. */
export interface BuiltAgent {
  spec: AgentSpec;
  system?: string;
  tools: ResolvedTools;
}

/** The storage error that ended a turn, if any: the turn reports it instead of success. */
export type TurnOutcome = { ok: true } | { ok: false; storageError: Error };

/** What one turn runs. */
export interface TurnPlan {
  spec: AgentSpec;
  /**
   * The agent as the turn runs it, being built (its prompt hooks read
   * files, or ask extensions): awaited only before the first model call,
   * so the build overlaps the question's write.
   */
  agent: Promise<BuiltAgent>;
  content: string;
  /**
   * The turn's start and question, written by the store during the
   * session's resume (opening.ts): published and pushed instead of made
   * from `content`.
   */
  opened?: OpenedTurn;
}

export async function runTurn(
  env: TurnEnv,
  session: LiveSession,
  turn: TurnHandle,
  { spec, agent: building, content, opened }: TurnPlan,
): Promise<TurnOutcome> {
  const { publisher } = env;
  const settings = env.settings();
  const startSeq = opened ? opened.start.seq : session.seq + 1;
  turn.startSeq = startSeq;
  const emit = (b: EventBody) => publisher.emit(session, startSeq, b);
  if (opened) publisher.publishWritten(opened.start);
  else emit(startBody(session.agent, session.id, turn.sender));
  const user = opened ? opened.user : question(content);
  session.push(user);
  const stream = settings.streamFor(spec.model);
  // Awaited just before the model call, so the before-run hooks overlap the write (and its fsync): a crash
  // once the request is out cannot lose the question it asks. While the fsync runs, the history the request
  // starts with is encoded for it (after a resume, all of it: ~0.5 ms for 10,000 messages), instead of after;
  // when the history is not built yet, the kept prefix its request may go out from is decoded instead (below).
  // An opening the store wrote during the resume may be written already: that work is done now.
  const unbuilt = session.unbuilt;
  const prepare = unbuilt
    ? () => prepareHead(unbuilt, stream, spec.model)
    : () => stream.prepare?.(spec.model, session.history.slice(0, -1));
  if (opened) prepare();
  const userWritten = opened ? opened.written : session.append([{ kind: "message", message: user }], prepare);

  // The tightest of: the agent's cap, what is left of today's budget, a delegating root's remaining budget.
  const caps = [spec.maxTokensPerTurn, env.usage.remainingToday(), turn.tokenCap].filter(
    (c): c is number => c !== undefined,
  );
  const maxTokensPerTurn = caps.length > 0 ? Math.min(...caps) : undefined;

  // Messages a hook adds for this turn only: they reach the model, the trace records them, history never holds them.
  // Without beforeRun hooks nothing is given the history, which may then stay unbuilt until the request is out.
  const injected = env.hooks.handles("beforeRun")
    ? await env.hooks.beforeRun(
        { agent: session.agent, session: session.id, history: session.history },
        turn.abort.signal,
        startSeq,
      )
    : [];
  const injectedMessages: Message[] = [];
  for (const { source, messages } of injected) {
    emit(body("injected", { source, messages: messages.map((m) => ({ role: m.role, content: m.content })) }));
    injectedMessages.push(...messages);
  }

  const announced = new Announcements();
  const authorize = async (call: ToolCall, source: ToolSource, signal: AbortSignal): Promise<Authorization> => {
    const current = env.settings();
    const decision = current.permissions.explain(session.agent, call.name, source);
    if (decision.permission === "allow") return { allowed: true };
    if (decision.permission === "deny") return { allowed: false, reason: `denied: ${decision.reason}` };
    if (!env.bus.hasApproverFor(turn.approver, session.id)) {
      return {
        allowed: false,
        reason: `denied: ${call.name} needs approval (${decision.reason}) but no interactive client is there to answer (sender ${turn.sender})`,
      };
    }
    await announced.waitFor(call.id, signal);
    const timeoutMs = current.approvalTimeoutMs;
    publisher.emit(
      session,
      startSeq,
      body("approval", {
        callId: call.id,
        tool: call.name,
        arguments: call.rawArguments,
        timeoutMs,
        session: session.id,
        agent: session.agent,
      }),
      turn.approver,
    );
    return env.approvals.wait(call.id, session.id, timeoutMs, signal, {
      agent: session.agent,
      tool: call.name,
      arguments: call.rawArguments,
    });
  };

  await userWritten;
  const agent = await building;
  // After a resume, the request may go out from the kept prefix before the 10,000 messages it stands for are
  // built; they are built only when something needs them (see SessionRuntime.startTurn).
  const head = await unbuiltHead(session, stream, spec.model);
  const prior = head ? session.unbuilt!.rest : session.history;
  const history = [...prior.slice(0, -1), ...injectedMessages, user];
  const loop = runAgent(
    {
      agent: session.agent,
      session: session.id,
      model: spec.model,
      ...(agent.system !== undefined ? { system: agent.system } : {}),
      history,
      ...(head ? { head } : {}),
      tools: agent.tools.tools,
      lookup: (name) => agent.tools.lookup(name),
      granted: (name, source) => agent.tools.granted(name, source),
      stream,
      maxIterations: spec.maxIterations,
      ...(maxTokensPerTurn !== undefined ? { maxTokensPerTurn } : {}),
      thinking: spec.thinking,
      authorize,
      transformOutput: settings.redact,
      maxOutputChars: settings.tools.maxOutputChars,
      maxCallsPerReply: settings.tools.maxCallsPerReply,
      maxConcurrentTools: settings.tools.maxConcurrentPerTurn,
      maxArgumentChars: settings.tools.maxArgumentChars,
      sharedToolSlots: env.toolSlots,
    },
    turn.abort.signal,
  );
  // The loop has sent its first request by the time this runs (see UsageLedger.warmSoon).
  env.usage.warmSoon();
  let sinceYield = 0;
  // The end is published only once the turn is on disk (a client that saw it may count on the answer), and
  // says the turn failed when any of its records could not be written. It is traced the moment the loop ends,
  // while the answer's batch may still be waiting to be written, so the two share one write (Publisher.emitEnd).
  let ending: ReturnType<Publisher["emitEnd"]> | undefined;
  const events = loop[Symbol.asyncIterator]();
  let drained = false;
  try {
    for (;;) {
      // Events already waiting are taken without a promise and a result object each (for await costs both).
      let ev = loop.takeNow();
      if (ev === undefined) {
        const next = await events.next();
        if (next.done) {
          drained = true;
          break;
        }
        ev = next.value;
      }
      // A provider read can hold thousands of deltas, all parsed without leaving the microtask queue.
      // Stepping out to the event loop now and then lets client sockets drain between them, so a
      // burst does not pile up in subscribers' buffers; it costs a few microseconds per 256 events.
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (ev.type === "message") {
        // Into the unbuilt part while the history is unbuilt: building it here would hold back the events
        // of this same provider read (the first token among them) by the 1 to 5 ms the build takes.
        session.push(ev.message);
        void session.append([{ kind: "message", message: ev.message }]);
        continue;
      }
      if (ev.type === "model_end") {
        env.usage.record(session.agent, ev.model, ev.usage);
        session.lastPromptTokens = ev.usage.promptTokens;
      }
      if (ev.type === "end") {
        const end = ev;
        ending = publisher.emitEnd(
          session,
          startSeq,
          (storageError) => loopEventToBody(session.agent, storageError ? storageFailedEnd(end, storageError) : end)!,
        );
        break;
      }
      const b = loopEventToBody(session.agent, ev);
      if (b) emit(b);
      if (ev.type === "tool_start") announced.add(ev.calls.map((c) => c.id));
    }
  } finally {
    // What for await does on leaving early: the loop's stream is told nobody reads it any more.
    if (!drained) await events.return?.();
  }
  announced.close();
  if (!ending) {
    await session.flushTrace();
    const storageError = session.takeWriteFailure();
    return storageError ? { ok: false, storageError } : { ok: true };
  }
  const { failure } = await ending;
  session.takeWriteFailure();
  return failure ? { ok: false, storageError: failure } : { ok: true };
}

/**
 * While the question is fsynced: the kept prefix the first request may
 * carry as its head (see unbuiltHead), made ready by its provider (its
 * ~700 KB of JSON decoded for 10,000 messages), if its read has ended or
 * once it does.
 */
function prepareHead(unbuilt: UnbuiltHistory, stream: StreamFn, model: string): void {
  if (!stream.prepareHead) return;
  void unbuilt.prefix.then(
    (prefix) => {
      if (prefix) stream.prepareHead?.(model, prefix);
    },
    () => undefined,
  );
}

/**
 * The kept request prefix the turn's requests may start with instead of
 * the session's history head, when that head is still unbuilt, the
 * prefix stands for exactly it and the model's provider takes it;
 * undefined otherwise (the history is then built and encoded as usual).
 */
async function unbuiltHead(session: LiveSession, stream: StreamFn, model: string): Promise<EncodedPrefix | undefined> {
  const unbuilt = session.unbuilt;
  if (!unbuilt || !stream.takesPrefix) return undefined;
  const prefix = await unbuilt.prefix;
  if (!prefix || session.unbuilt !== unbuilt) return undefined;
  return stream.takesPrefix(model, prefix) ? prefix : undefined;
}

function storageFailedEnd(end: Extract<LoopEvent, { type: "end" }>, err: Error): Extract<LoopEvent, { type: "end" }> {
  return {
    ...end,
    stopReason: "error",
    error: {
      code: 507,
      message: `the turn ran but could not be saved: ${err.message}; free disk space (or fix the file system) and send again`,
    },
  };
}

/** Tool calls already announced by a ToolStart: an approval for one is published only after it. */
class Announcements {
  private readonly seen = new Set<string>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private closed = false;

  add(ids: readonly string[]): void {
    for (const id of ids) {
      this.seen.add(id);
      for (const wake of this.waiting.get(id) ?? []) wake();
      this.waiting.delete(id);
    }
  }

  waitFor(id: string, signal: AbortSignal): Promise<void> {
    if (this.closed || this.seen.has(id) || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        signal.removeEventListener("abort", wake);
        resolve();
      };
      signal.addEventListener("abort", wake, { once: true });
      this.waiting.set(id, [...(this.waiting.get(id) ?? []), wake]);
    });
  }

  close(): void {
    this.closed = true;
    for (const wakes of this.waiting.values()) for (const wake of wakes) wake();
    this.waiting.clear();
  }
}
