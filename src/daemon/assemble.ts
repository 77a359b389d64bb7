/**
 * Builds the session runtime: what is made once (the session store on
 * disk, the usage ledger, the built-in tools in the registry) and what a
 * config makes (`settingsFrom`: providers, agents, permissions, limits),
 * which a reload rebuilds and hands to `runtime.reconfigure`.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/load.ts";
import type { Paths } from "../config/paths.ts";
import { ProviderRegistry, UnknownModelError } from "../provider/registry.ts";
import { JsonlSessionStore } from "../store/jsonl.ts";
import { BUILTIN_SOURCE, builtinToolEntries } from "../tools/index.ts";
import { createPermissionEngine } from "../agent/permissions.ts";
import { SessionRuntime } from "../session/runtime.ts";
import { DEFAULT_TOOL_LIMITS, type AgentSpec, type RuntimeSettings } from "../session/settings.ts";
import { UsageLedger } from "../session/usage.ts";
import { contextWindowFor } from "../session/compaction.ts";
import { SessionError } from "../session/errors.ts";

/** The grant of the delegation tools' source (src/delegation), added for agents with members. */
const DELEGATION_GRANT = "delegation/*";
import { secretRedactor } from "../util/redact.ts";
import { configSecrets } from "./config-secrets.ts";

/**
 * The runtime settings a config describes. Creates each agent's cwd.
 * `mcpGrants` turns an agent's `mcp = [...]` into tool grants (the MCP hub
 * decides between each server's tools and the `mcp` meta-tool); without it
 * each granted server's tools are granted as "<server>/*". Permission rules
 * always see the servers' tools as granted, so the meta-tool can apply them.
 */
export function settingsFrom(config: Config, mcpGrants?: (agent: string) => string[]): RuntimeSettings {
  const registry = new ProviderRegistry(config.providers);
  const overrides: Record<string, number> = {};
  for (const p of config.providers) Object.assign(overrides, p.contextWindow);

  const agents = new Map<string, AgentSpec>();
  const grants = new Map<string, string[]>();
  for (const [name, agent] of config.agents.agents) {
    mkdirSync(agent.cwd, { recursive: true, mode: 0o700 });
    const serverGrants = (agent.mcp ?? []).map((server) => `${server}/*`);
    // An agent with members is offered the delegation tools (delegate, tasks, collect): members is the grant.
    const delegation = (agent.members ?? []).length > 0 ? [DELEGATION_GRANT] : [];
    const tools = [...agent.tools, ...(mcpGrants ? mcpGrants(name) : serverGrants), ...delegation];
    agents.set(name, {
      name,
      model: agent.model,
      ...(agent.systemPrompt !== undefined ? { system: agent.systemPrompt } : {}),
      ...(agent.description !== undefined ? { description: agent.description } : {}),
      grants: tools,
      cwd: agent.cwd,
      maxIterations: agent.maxIterations,
      thinking: agent.thinking,
      ...(agent.maxTokensPerTurn !== undefined ? { maxTokensPerTurn: agent.maxTokensPerTurn } : {}),
      ...(agent.members !== undefined ? { members: agent.members } : {}),
    });
    grants.set(name, [...new Set([...tools, ...serverGrants])]);
  }
  const redact = secretRedactor(configSecrets(config));
  return {
    agents,
    streamFor: (model) => {
      try {
        registry.providerFor(model);
      } catch (err) {
        if (err instanceof UnknownModelError) throw new SessionError("bad_request", err.message);
        throw err;
      }
      return registry.stream;
    },
    contextWindow: (model) => contextWindowFor(model, overrides),
    permissions: createPermissionEngine(config.agents.permissions, grants),
    approvalTimeoutMs: config.daemon.approvalTimeoutMs,
    compactThreshold: config.daemon.compactThreshold,
    ...(config.agents.budget.dailyTokens !== undefined ? { dailyTokens: config.agents.budget.dailyTokens } : {}),
    tools: { ...DEFAULT_TOOL_LIMITS },
    delegation: { ...config.delegation },
    redact,
  };
}

export async function assembleRuntime(config: Config, paths: Paths): Promise<SessionRuntime> {
  // The store asks the runtime (made next, with the providers) for the request prefix a view checkpoint keeps.
  let runtime: SessionRuntime | undefined;
  const opening = JsonlSessionStore.open(paths.sessions, {
    requestPrefix: (agent, history) => runtime?.requestPrefix(agent, history),
  });
  // The store's file calls run on the file-system threads while the settings are made here (~0.8 ms at start).
  opening.catch(() => undefined); // awaited below; this only keeps a failure while settingsFrom runs from going unhandled
  const settings = settingsFrom(config);
  const store = await opening;
  const usage = new UsageLedger(join(paths.home, "usage"), config.agents.budget.dailyTokens);
  runtime = new SessionRuntime({ store, usage }, settings);
  runtime.registry.setSource(BUILTIN_SOURCE, builtinToolEntries());
  return runtime;
}
