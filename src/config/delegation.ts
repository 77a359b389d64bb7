/**
 * Delegation: `[agents.x] members = ["researcher", "coder"]` (who x may
 * hand work to; "*" = every agent; omitted = nobody) and the optional
 * `[delegation]` limits.
 *
 *   [delegation]
 *   max_depth = 3      # lead -> researcher -> helper is depth 2
 *   max_parallel = 8   # tasks running at once per delegating turn
 */
import type { AgentConfig } from "./agents.ts";
import { ConfigError, expectNumber, isTable, rejectUnknownKeys, type ConfigContext } from "./errors.ts";

export interface DelegationSettings {
  maxDepth: number;
  maxParallel: number;
}

export const DEFAULT_DELEGATION: DelegationSettings = { maxDepth: 3, maxParallel: 8 };

const KEYS = ["max_depth", "max_parallel"] as const;

export function parseDelegation(raw: unknown, ctx: ConfigContext): DelegationSettings {
  const out = { ...DEFAULT_DELEGATION };
  if (raw === undefined) return out;
  if (!isTable(raw))
    throw new ConfigError(ctx.file, "delegation", "expected a table", "write it as a [delegation] section");
  rejectUnknownKeys(ctx, "delegation", raw, KEYS);
  for (const [key, field] of [
    ["max_depth", "maxDepth"],
    ["max_parallel", "maxParallel"],
  ] as const) {
    if (raw[key] === undefined) continue;
    const n = expectNumber(ctx, `delegation.${key}`, raw[key], `set ${key} to a whole number of at least 1`);
    if (!Number.isInteger(n) || n < 1 || n > 64)
      throw new ConfigError(
        ctx.file,
        `delegation.${key}`,
        `must be a whole number from 1 to 64, got ${n}`,
        `set ${key} = ${DEFAULT_DELEGATION[field]}`,
      );
    out[field] = n;
  }
  return out;
}

/** `members` names agents that exist (or "*"); checked once every agent is known. */
export function checkMembers(agents: ReadonlyMap<string, AgentConfig>, ctx: ConfigContext): void {
  for (const agent of agents.values()) {
    for (const member of agent.members ?? []) {
      if (member === "*" || agents.has(member)) continue;
      throw new ConfigError(
        ctx.file,
        `agents.${agent.name}.members`,
        `no agent is called "${member}"`,
        `add an [agents.${member}] section or use one of: ${[...agents.keys()].join(", ")}`,
      );
    }
  }
}
