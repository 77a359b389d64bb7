/**
 * What the gateway needs to know about agents, read from the daemon's
 * config (GetConfig, secrets redacted): their names (for /agent) and each
 * one's cwd (attachments go to <cwd>/inbox/). The cwd follows the config's
 * rules: default $CRABTALK_HOME/work, relative paths under $CRABTALK_HOME,
 * ~ expanded. Read per use: the config can be reloaded while we run.
 */
import { parse as parseToml } from "smol-toml";
import type { CrabtalkClient } from "../../client/client.ts";
import { agentCwd } from "../../config/agents.ts";

export interface AgentDirectory {
  names: string[];
  cwdOf(agent: string): string;
}

export async function readAgents(daemon: CrabtalkClient, home: string): Promise<AgentDirectory> {
  const reply = await daemon.request({ getConfig: {} });
  let agents: Record<string, { cwd?: unknown }> = {};
  try {
    const parsed = parseToml(reply.config?.config ?? "") as { agents?: Record<string, { cwd?: unknown }> };
    agents = parsed.agents ?? {};
  } catch {
    agents = {};
  }
  return {
    names: Object.keys(agents),
    cwdOf: (agent) => {
      const cwd = agents[agent]?.cwd;
      return agentCwd(typeof cwd === "string" && cwd.trim() ? cwd : undefined, home);
    },
  };
}
