/**
 * Small formatters shared by every view: a tool call's one-line argument
 * summary, durations, token counts and the per-turn footer text. Pure
 * string functions, so the look is unit-tested without a terminal.
 */
import type { Usage } from "../../protocol/gen/crabtalk.ts";
import { oneLine } from "./style.ts";

/** The argument that says what a call does, by tool; other tools show their first string argument or compact JSON. */
const KEY_ARGUMENT: Record<string, string[]> = {
  bash: ["command"],
  read: ["path", "file_path"],
  write: ["path", "file_path"],
  edit: ["path", "file_path"],
};

/** One line saying what a call does: `sleep 30` for bash, the path for file tools. */
export function summarizeArguments(tool: string, json: string): string {
  let args: unknown;
  try {
    args = JSON.parse(json || "{}");
  } catch {
    return oneLine(json);
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) return oneLine(JSON.stringify(args));
  const record = args as Record<string, unknown>;
  for (const key of KEY_ARGUMENT[tool] ?? []) {
    const v = record[key];
    if (typeof v === "string") return oneLine(v);
  }
  const keys = Object.keys(record);
  if (keys.length === 0) return "";
  if (keys.length === 1 && typeof record[keys[0]!] === "string") return oneLine(record[keys[0]!] as string);
  return oneLine(JSON.stringify(record));
}

export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, "0")}s`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** "12 in · 5 out" plus cached and reasoning tokens when there are any. */
export function formatUsage(u: Usage | undefined): string {
  if (!u) return "no usage reported";
  const parts = [`${formatCount(u.promptTokens)} in`, `${formatCount(u.completionTokens)} out`];
  if (u.cacheReadTokens) parts.push(`${formatCount(u.cacheReadTokens)} cached`);
  if (u.reasoningTokens) parts.push(`${formatCount(u.reasoningTokens)} reasoning`);
  return parts.join(" · ");
}

export function addUsage(a: Usage, b: Usage | undefined): Usage {
  if (!b) return a;
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
}

export const ZERO_USAGE: Usage = {
  promptTokens: 0,
  completionTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
};

/** Stop reasons worth naming in the footer (a normal stop is not). */
export function describeStop(stopReason: string): string | null {
  switch (stopReason) {
    case "":
    case "stop":
    case "tool_calls":
      return null;
    case "aborted":
    case "cancelled":
      return "cancelled";
    case "length":
      return "cut off: the model hit its output limit";
    case "max_iterations":
      return "stopped: too many tool rounds";
    case "token_budget":
      return "stopped: token budget for the turn spent";
    case "interrupted":
      return "interrupted";
    default:
      return stopReason;
  }
}
