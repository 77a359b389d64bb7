/**
 * The config's secret values, a light module: the daemon's log redaction
 * needs them from the first line, before the runtime (assemble.ts) loads.
 */
import type { Config } from "../config/load.ts";
import { mcpSecrets } from "../config/mcp.ts";
import { providerSecrets } from "../util/redact.ts";

/** Every secret value the config holds (API keys, header values), for redaction of logs and tool output. */
export function configSecrets(config: Config): string[] {
  return [...providerSecrets(config.providers), ...mcpSecrets(config.mcp)];
}
