/**
 * The daemon's MCP wiring: with servers configured, the hub (src/mcp/) is
 * loaded and attached to the runtime; with none, nothing MCP is even parsed.
 * Settings are rebuilt with the hub's grants whenever a server's tools change.
 */
import type { Config } from "../config/load.ts";
import type { Paths } from "../config/paths.ts";
import type { McpHub } from "../mcp/hub.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import { settingsFrom } from "./assemble.ts";

export async function startMcp(
  config: Config,
  paths: Paths,
  runtime: SessionRuntime,
  env: Record<string, string | undefined>,
): Promise<McpHub | null> {
  if (config.mcp.servers.length === 0) return null;
  const { McpHub } = await import("../mcp/hub.ts");
  const agentServers = new Map([...config.agents.agents].map(([name, a]) => [name, a.mcp ?? []] as const));
  let hub: McpHub | null = null;
  const rebuild = () => {
    if (hub) runtime.reconfigure(settingsFrom(config, (agent) => hub!.grantsFor(agent)));
  };
  hub = new McpHub({
    config: config.mcp,
    agentServers,
    runtime,
    logsDir: paths.logs,
    home: paths.home,
    env,
    rebuild,
  });
  rebuild();
  return hub;
}
