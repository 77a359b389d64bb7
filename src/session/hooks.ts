/**
 * Lifecycle hooks: where extensions and built-in features (memory, skills)
 * attach to the runtime, one hook per ext.proto capability:
 *   buildAgent        prompt additions and tools, when an agent is built;
 *   turnPrompt        a prompt addition computed afresh for every turn (not
 *                     cached like buildAgent's: for text people edit on disk,
 *                     such as MEMORY.md and the skill catalogue);
 *   beforeRun         messages injected into one turn's model requests
 *                     (traced as an `injected` event, never in history);
 *   afterRun          the history and system prompt after each turn;
 *   compactionPrompt  additions to the summarizing instructions;
 *   afterCompact      the summary, after a compaction;
 *   observe           every event of every session.
 *
 * Isolation is the contract: a hook that throws, rejects or outlives its
 * timeout never fails or delays a turn beyond that timeout; the turn goes
 * on without it and the failure is reported (log and trace). Observers run
 * off the turn's path entirely, each behind its own bounded queue: a slow
 * or throwing observer costs the turn nothing, and what it missed is counted.
 */
import type { Tool, ToolSource } from "../agent/types.ts";
import type { Message } from "../provider/types.ts";
import { errorMessage } from "../util/abort.ts";
import type { SessionEvent } from "./events.ts";

export interface BuildAgentInput {
  name: string;
  description?: string;
  systemPrompt?: string;
  /** The agent's grants as written. */
  tools: readonly string[];
}

export interface BuildAgentOutput {
  promptAddition?: string;
  /** Extra tools for this agent, granted like any other (under the hook's source). */
  tools?: Tool[];
}

export interface TurnInput {
  agent: string;
  session: number;
  /** The conversation so far, the new user message last. */
  history: readonly Message[];
}

export interface AfterRunInput extends TurnInput {
  system?: string;
}

export interface RuntimeHooks {
  /** Names the hook in logs and traces ("ext:search", "memory"). */
  name: string;
  /** Where tools returned by buildAgent come from (for grants); default an extension of this name. */
  source?: ToolSource;
  /** Per call; default DEFAULT_HOOK_TIMEOUT_MS. */
  timeoutMs?: number;
  buildAgent?(agent: BuildAgentInput, signal: AbortSignal): Promise<BuildAgentOutput | undefined>;
  turnPrompt?(agent: { name: string }, signal: AbortSignal): Promise<string | undefined>;
  beforeRun?(turn: TurnInput, signal: AbortSignal): Promise<Message[] | undefined>;
  afterRun?(turn: AfterRunInput, signal: AbortSignal): Promise<void>;
  compactionPrompt?(input: { agent: string; session: number }, signal: AbortSignal): Promise<string | undefined>;
  afterCompact?(input: { agent: string; session: number; summary: string }, signal: AbortSignal): Promise<void>;
  /** Called off the turn's path, in order, one event at a time per observer. */
  observe?(event: SessionEvent): void | Promise<void>;
}

/** 30 s: the extension default (timeout_ms); a hook slower than that is treated as failed. */
export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;
/** Events waiting for one observer before newer ones are dropped (and counted): about a minute of a busy stream. */
export const OBSERVER_QUEUE = 4096;

/** A hook that failed: reported in the log and as a `notice` in the session's trace. */
export interface HookFailure {
  hook: string;
  stage: string;
  message: string;
  /** The session (and turn, 0 for between turns) the failed call was about, when it was about one. */
  session?: number;
  turn?: number;
}

export type Report = (failure: HookFailure) => void;

/** One observer's queue and counters. */
class ObserverQueue {
  private readonly queue: SessionEvent[] = [];
  private running = false;
  dropped = 0;
  failures = 0;

  constructor(
    readonly hooks: RuntimeHooks,
    private readonly report: Report,
  ) {}

  offer(event: SessionEvent): void {
    if (this.queue.length >= OBSERVER_QUEUE) {
      this.dropped++;
      return;
    }
    this.queue.push(event);
    if (!this.running) {
      this.running = true;
      // Off the publisher's call stack: the turn that published goes on at once.
      queueMicrotask(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    const observe = this.hooks.observe!;
    const timeoutMs = this.hooks.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
    while (this.queue.length > 0) {
      const event = this.queue.shift()!;
      try {
        const pending = observe.call(this.hooks, event);
        if (pending instanceof Promise) await withTimeout(pending, timeoutMs);
      } catch (err) {
        this.failures++;
        // One report per burst of failures, not one per event.
        if (this.failures === 1 || this.failures % 1000 === 0)
          this.report({ hook: this.hooks.name, stage: "observe", message: errorMessage(err) });
      }
    }
    this.running = false;
  }
}

export class HookHub {
  private readonly hooks: RuntimeHooks[] = [];
  private readonly observers = new Map<RuntimeHooks, ObserverQueue>();
  private generation = 0;

  constructor(private readonly report: Report) {}

  /** Whether any hook has `stage` (a turn without beforeRun hooks need not build the history it would give them). */
  handles(stage: "beforeRun" | "afterRun"): boolean {
    return this.hooks.some((h) => h[stage] !== undefined);
  }

  /** Bumped when hooks are added or removed: agents are rebuilt with the new set. */
  get version(): number {
    return this.generation;
  }

  /** Adds a set of hooks; returns its removal. */
  add(hooks: RuntimeHooks): () => void {
    this.hooks.push(hooks);
    if (hooks.observe) this.observers.set(hooks, new ObserverQueue(hooks, this.report));
    this.generation++;
    return () => {
      const i = this.hooks.indexOf(hooks);
      if (i >= 0) this.hooks.splice(i, 1);
      this.observers.delete(hooks);
      this.generation++;
    };
  }

  /** Observer counters, for status: events dropped and failures per hook. */
  observerStats(): { hook: string; dropped: number; failures: number }[] {
    return [...this.observers.values()].map((q) => ({ hook: q.hooks.name, dropped: q.dropped, failures: q.failures }));
  }

  /** Never blocks and never throws. */
  observe(event: SessionEvent): void {
    for (const q of this.observers.values()) q.offer(event);
  }

  async buildAgent(
    agent: BuildAgentInput,
  ): Promise<{ promptAdditions: string[]; tools: { tool: Tool; source: ToolSource }[] }> {
    const results = await this.each("buildAgent", (h, signal) =>
      h.buildAgent?.(agent, signal).then((value) => ({ value, source: h.source ?? extensionSource(h.name) })),
    );
    const promptAdditions: string[] = [];
    const tools: { tool: Tool; source: ToolSource }[] = [];
    for (const { value: result } of results) {
      const value = result?.value;
      if (value?.promptAddition?.trim()) promptAdditions.push(value.promptAddition.trim());
      for (const tool of value?.tools ?? []) tools.push({ tool, source: result!.source });
    }
    return { promptAdditions, tools };
  }

  /** Every hook's per-turn prompt addition, in the order the hooks were added. */
  async turnPrompt(agent: { name: string }): Promise<string[]> {
    const results = await this.each("turnPrompt", (h, signal) => h.turnPrompt?.(agent, signal));
    return results.map((r) => r.value?.trim() ?? "").filter((v) => v.length > 0);
  }

  /** Injected messages, by the hook that gave them. */
  async beforeRun(
    turn: TurnInput,
    signal: AbortSignal,
    turnSeq = 0,
  ): Promise<{ source: string; messages: Message[] }[]> {
    const results = await this.each("beforeRun", (h, s) => h.beforeRun?.(turn, s), signal, {
      session: turn.session,
      turn: turnSeq,
    });
    return results
      .filter((r) => r.value && r.value.length > 0)
      .map((r) => ({ source: r.hook, messages: r.value as Message[] }));
  }

  async afterRun(turn: AfterRunInput): Promise<void> {
    await this.each("afterRun", (h, signal) => h.afterRun?.(turn, signal), undefined, { session: turn.session });
  }

  async compactionPrompt(input: { agent: string; session: number }, signal?: AbortSignal): Promise<string[]> {
    const results = await this.each("compactionPrompt", (h, s) => h.compactionPrompt?.(input, s), signal, {
      session: input.session,
    });
    return results.map((r) => r.value?.trim() ?? "").filter((v) => v.length > 0);
  }

  async afterCompact(input: { agent: string; session: number; summary: string }): Promise<void> {
    await this.each("afterCompact", (h, signal) => h.afterCompact?.(input, signal), undefined, {
      session: input.session,
    });
  }

  /** Runs one stage of every hook that has it, concurrently, each isolated and under its timeout. */
  private async each<T>(
    stage: string,
    run: (hooks: RuntimeHooks, signal: AbortSignal) => Promise<T> | undefined,
    outer?: AbortSignal,
    where: { session?: number; turn?: number } = {},
  ): Promise<{ hook: string; value: T | undefined }[]> {
    const settled = await Promise.all(
      [...this.hooks].map(async (hooks) => {
        const controller = new AbortController();
        const onOuter = () => controller.abort(outer?.reason);
        outer?.addEventListener("abort", onOuter, { once: true });
        try {
          const pending = run(hooks, controller.signal);
          if (pending === undefined) return undefined;
          const value = await withTimeout(pending, hooks.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS, controller);
          return { hook: hooks.name, value };
        } catch (err) {
          if (!outer?.aborted) this.report({ hook: hooks.name, stage, message: errorMessage(err), ...where });
          return undefined;
        } finally {
          outer?.removeEventListener("abort", onOuter);
        }
      }),
    );
    return settled.filter((r) => r !== undefined) as { hook: string; value: T | undefined }[];
  }
}

function extensionSource(name: string): ToolSource {
  return { kind: "extension", name };
}

class HookTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

function withTimeout<T>(pending: Promise<T>, ms: number, controller?: AbortController): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new HookTimeout(ms);
      controller?.abort(err);
      reject(err);
    }, ms);
  });
  return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
}
