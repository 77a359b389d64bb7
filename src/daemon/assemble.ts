/**
 * Builds the session runtime from a validated config: the provider
 * registry, the session store on disk, each agent's granted tools in its
 * working directory, the permission engine and the usage ledger.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/load.ts";
import type { Paths } from "../config/paths.ts";
import { ProviderRegistry, UnknownModelError } from "../provider/registry.ts";
import { JsonlSessionStore } from "../store/jsonl.ts";
import { builtinTools, BUILTIN_TOOL_NAMES } from "../tools/index.ts";
import { createPermissionEngine } from "../agent/permissions.ts";
import { SessionRuntime, type AgentSpec } from "../session/runtime.ts";
import { UsageLedger } from "../session/usage.ts";
import { contextWindowFor } from "../session/compaction.ts";
import { ErrorCode, WireError } from "../protocol/errors.ts";
import { providerSecrets, secretRedactor } from "../util/redact.ts";

export async function assembleRuntime(config: Config, paths: Paths): Promise<SessionRuntime> {
  const registry = new ProviderRegistry(config.providers);
  const overrides: Record<string, number> = {};
  for (const p of config.providers) Object.assign(overrides, p.contextWindow);

  const specs = new Map<string, AgentSpec>();
  const grants = new Map<string, string[]>();
  for (const [name, agent] of config.agents.agents) {
    mkdirSync(agent.cwd, { recursive: true, mode: 0o700 });
    const tools = builtinTools({ cwd: agent.cwd }).filter((t) => agent.tools.includes(t.name));
    specs.set(name, {
      name,
      model: agent.model,
      system: agent.systemPrompt,
      tools,
      knownTools: [...BUILTIN_TOOL_NAMES],
      maxIterations: agent.maxIterations,
      thinking: agent.thinking,
      maxTokensPerTurn: agent.maxTokensPerTurn,
    });
    grants.set(name, agent.tools);
  }

  const store = await JsonlSessionStore.open(paths.sessions);
  return new SessionRuntime({
    store,
    agent: (name) => specs.get(name),
    agentNames: () => [...specs.keys()],
    streamFor: (model) => {
      try {
        registry.providerFor(model);
      } catch (err) {
        if (err instanceof UnknownModelError) throw new WireError(ErrorCode.BadRequest, err.message);
        throw err;
      }
      return registry.stream;
    },
    contextWindow: (model) => contextWindowFor(model, overrides),
    permissions: createPermissionEngine(config.agents.permissions, grants),
    usage: new UsageLedger(join(paths.home, "usage"), config.agents.budget.dailyTokens),
    approvalTimeoutMs: config.daemon.approvalTimeoutMs,
    compactThreshold: config.daemon.compactThreshold,
    redact: secretRedactor(providerSecrets(config.providers)),
  });
}
