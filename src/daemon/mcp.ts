/**
 * The daemon's MCP wiring: with servers configured, the hub (src/mcp/) is
 * loaded and attached to the runtime; with none, nothing MCP is even parsed.
 * `apply` rebuilds the runtime's settings from the daemon's current config
 * and the hub's grants (they follow tool counts), whenever a server's tools
 * change. A reload reconciles the servers (see `mcpReloadParticipant`).
 */
import type { Config } from "../config/load.ts";
import type { Paths } from "../config/paths.ts";
import type { McpHub } from "../mcp/hub.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import type { ReloadParticipant } from "./reload.ts";

function agentServers(config: Config): Map<string, string[]> {
  return new Map([...config.agents.agents].map(([name, a]) => [name, a.mcp ?? []] as const));
}

export async function startMcp(
  config: Config,
  paths: Paths,
  runtime: SessionRuntime,
  env: Record<string, string | undefined>,
  apply: () => void,
): Promise<McpHub | null> {
  if (config.mcp.servers.length === 0) return null;
  const { McpHub } = await import("../mcp/hub.ts");
  return new McpHub({
    config: config.mcp,
    agentServers: agentServers(config),
    runtime,
    logsDir: paths.logs,
    home: paths.home,
    env,
    rebuild: apply,
  });
}

/** Reconciles MCP servers on reload; starts the hub when the first server appears. */
export function mcpReloadParticipant(deps: {
  hub(): McpHub | null;
  setHub(hub: McpHub): void;
  paths: Paths;
  runtime: SessionRuntime;
  env: Record<string, string | undefined>;
  apply: () => void;
}): ReloadParticipant {
  return {
    name: "mcp",
    async apply(next) {
      const hub = deps.hub();
      if (hub) return hub.reconcile(next.mcp, agentServers(next));
      const started = await startMcp(next, deps.paths, deps.runtime, deps.env, deps.apply);
      if (!started) return [];
      deps.setHub(started);
      return next.mcp.servers.map((s) => `mcp server ${s.name} added`);
    },
  };
}
