/**
 * Config for memory (src/memory):
 *
 *   [memory]
 *   backend = "builtin"   # or "off": no memory tools, prompt or auto-recall (an extension may provide them)
 *   recall_limit = 3      # entries auto-recalled into each turn; default 0 = off
 *
 *   [agents.x]
 *   memory = "shared"     # default; "own" keeps entries in memory/<agent>/; "off" gives the agent none
 */
import { ConfigError, expectNumber, expectString, isTable, rejectUnknownKeys, type ConfigContext } from "./errors.ts";

export type MemoryBackend = "builtin" | "off";
export type MemoryScope = "shared" | "own" | "off";

export interface MemorySettings {
  backend: MemoryBackend;
  recallLimit: number;
}

const KEYS = ["backend", "recall_limit"] as const;
/** More injected entries than this crowd out the conversation; recall{limit} can ask for more. */
const MAX_RECALL_LIMIT = 20;

export function parseMemorySection(raw: unknown, ctx: ConfigContext): MemorySettings {
  const settings: MemorySettings = { backend: "builtin", recallLimit: 0 };
  if (raw === undefined) return settings;
  if (!isTable(raw)) throw new ConfigError(ctx.file, "memory", "expected a table", "write it as a [memory] section");
  rejectUnknownKeys(ctx, "memory", raw, KEYS);
  if (raw.backend !== undefined) {
    const b = expectString(ctx, "memory.backend", raw.backend, 'write backend = "builtin" or "off"');
    if (b !== "builtin" && b !== "off")
      throw new ConfigError(ctx.file, "memory.backend", `unknown backend "${b}"`, 'write backend = "builtin" or "off"');
    settings.backend = b;
  }
  if (raw.recall_limit !== undefined) {
    const n = expectNumber(
      ctx,
      "memory.recall_limit",
      raw.recall_limit,
      "set recall_limit to a whole number, 0 for off",
    );
    if (!Number.isInteger(n) || n < 0 || n > MAX_RECALL_LIMIT)
      throw new ConfigError(
        ctx.file,
        "memory.recall_limit",
        `must be a whole number from 0 to ${MAX_RECALL_LIMIT}, got ${n}`,
        "set recall_limit = 3 (or 0 to switch auto-recall off)",
      );
    settings.recallLimit = n;
  }
  return settings;
}

export function parseMemoryScope(raw: unknown, key: string, ctx: ConfigContext): MemoryScope {
  if (raw === undefined) return "shared";
  const v = expectString(ctx, key, raw, 'write memory = "shared", "own" or "off"');
  if (v !== "shared" && v !== "own" && v !== "off")
    throw new ConfigError(ctx.file, key, `unknown memory scope "${v}"`, 'write memory = "shared", "own" or "off"');
  return v;
}
