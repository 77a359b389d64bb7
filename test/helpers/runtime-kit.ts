/**
 * An in-process session runtime for fast tests of the session layer: the
 * in-memory store, an in-memory usage ledger, scripted model streams (one
 * script per model name), the built-in tool registry empty unless a test
 * registers tools. No sockets, no binary: the rules of queueing, hooks,
 * grants, approvals and reconfiguration in milliseconds.
 */
import { createPermissionEngine, type PermissionRules } from "../../src/agent/permissions.ts";
import type { StreamFn } from "../../src/provider/types.ts";
import { SessionError } from "../../src/session/errors.ts";
import type { SessionEvent } from "../../src/session/events.ts";
import { SessionRuntime } from "../../src/session/runtime.ts";
import { DEFAULT_TOOL_LIMITS, type AgentSpec, type RuntimeSettings } from "../../src/session/settings.ts";
import { UsageLedger } from "../../src/session/usage.ts";
import { MemorySessionStore } from "../../src/store/memory.ts";

export interface KitOptions {
  agents?: Partial<AgentSpec>[];
  /** A stream per model name. */
  models: Record<string, StreamFn>;
  permissions?: PermissionRules;
  approvalTimeoutMs?: number;
  compactThreshold?: number;
  /** RuntimeCore.idleHistoryChars: 0 releases every idle session's history as its turn ends. */
  idleHistoryChars?: number;
}

export function settingsFor(opts: KitOptions): RuntimeSettings {
  const agents = new Map<string, AgentSpec>();
  for (const a of opts.agents ?? [{ name: "crab" }]) {
    const spec: AgentSpec = {
      name: a.name ?? "crab",
      model: a.model ?? Object.keys(opts.models)[0]!,
      grants: a.grants ?? ["*"],
      cwd: a.cwd ?? "/tmp",
      maxIterations: a.maxIterations ?? 8,
      thinking: false,
      ...(a.system !== undefined ? { system: a.system } : {}),
    };
    agents.set(spec.name, spec);
  }
  const grants = new Map([...agents.values()].map((a) => [a.name, [...a.grants]]));
  return {
    agents,
    streamFor: (model) => {
      const s = opts.models[model];
      if (!s) throw new SessionError("bad_request", `no provider serves model ${model}`);
      return s;
    },
    contextWindow: () => 100_000,
    permissions: createPermissionEngine(opts.permissions ?? { global: {}, agents: {} }, grants),
    approvalTimeoutMs: opts.approvalTimeoutMs ?? 60_000,
    compactThreshold: opts.compactThreshold ?? 0.8,
    tools: { ...DEFAULT_TOOL_LIMITS },
    delegation: { maxDepth: 3, maxParallel: 8 },
    redact: (text) => text,
  };
}

export function makeRuntime(opts: KitOptions): { runtime: SessionRuntime; store: MemorySessionStore } {
  const store = new MemorySessionStore();
  const runtime = new SessionRuntime(
    {
      store,
      usage: new UsageLedger(null, undefined),
      ...(opts.idleHistoryChars !== undefined ? { idleHistoryChars: opts.idleHistoryChars } : {}),
    },
    settingsFor(opts),
  );
  return { runtime, store };
}

/** Every event of an iterable until it ends (a turn's subscription ends after its end event). */
export async function drain(events: AsyncIterable<SessionEvent>): Promise<SessionEvent[]> {
  const out: SessionEvent[] = [];
  try {
    for await (const e of events) {
      out.push(e);
      if (e.body.kind === "end") break;
    }
  } catch {
    // A subscription failed after its events: what was delivered is what the test checks.
  }
  return out;
}

export const kinds = (events: readonly SessionEvent[]) => events.map((e) => e.body.kind);
