/**
 * The `[agents.<name>]`, `[permissions]` and `[budget]` sections: who the
 * agents are, what they may do, and how many tokens a day they may spend.
 *
 *   [agents.crab]                  # the default agent; exists even when not configured
 *   model = "gpt-4o-mini"          # default: the first model of the first provider
 *   system_prompt = "You are..."   # default: $CRABTALK_HOME/agents/<name>.md if it exists
 *   tools = ["bash", "read"]       # the grant; default: every built-in tool
 *   max_iterations = 16
 *   thinking = false
 *   cwd = "~/work"                 # default: $CRABTALK_HOME/work; relative paths are under $CRABTALK_HOME
 *   max_tokens_per_turn = 200000   # optional
 *   description = "..."            # optional, shown by clients
 *
 *   [permissions]                  # tool (or "*") = "allow" | "ask" | "deny"
 *   bash = "ask"
 *   [permissions.researcher]       # per-agent table, overrides [permissions]
 *   bash = "deny"
 *
 *   [budget]
 *   daily_tokens = 2000000         # optional, across all agents
 *
 * Precedence between these rules is the permission engine's
 * (agent/permissions.ts); this module only checks that what is written
 * means something: known keys, known tools, known agents, valid values.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  ConfigError,
  expectBool,
  expectNumber,
  expectString,
  expectStringArray,
  isTable,
  rejectUnknownKeys,
  type ConfigContext,
  type Table,
} from "./errors.ts";
import { expandTilde } from "./paths.ts";
import { grantSyntaxError } from "../util/grants.ts";
import { parseSkillGrant, type SkillGrant } from "./skills.ts";
import { parseMemoryScope, type MemoryScope } from "./memory.ts";

export const DEFAULT_AGENT = "crab";
export const DEFAULT_MAX_ITERATIONS = 16;

export type PermissionValue = "allow" | "ask" | "deny";
const PERMISSION_VALUES: readonly PermissionValue[] = ["allow", "ask", "deny"];
/** The key in a permissions table that applies to every tool. */
export const PERMISSION_WILDCARD = "*";

export interface AgentConfig {
  name: string;
  model: string;
  /** Undefined when neither system_prompt nor agents/<name>.md gives one. */
  systemPrompt?: string;
  description?: string;
  /** The granted tool names, in the order written, without duplicates. */
  tools: string[];
  maxIterations: number;
  thinking: boolean;
  /** Absolute path where the agent's tools run. */
  cwd: string;
  maxTokensPerTurn?: number;
  /** Skills it may use (config/skills.ts); none when omitted. */
  skills?: SkillGrant;
  /** Where its memory lives (config/memory.ts); shared when omitted. */
  memory?: MemoryScope;
  /** The MCP servers this agent may use (`mcp = ["fs"]`); none when omitted. Checked in mcp.ts. */
  mcp?: string[];
  /** Agents it may delegate to ("*" = all); nobody when omitted (config/delegation.ts). */
  members?: string[];
}

/** Same shape as agent/permissions.ts PermissionRules, so it can be passed straight to the engine. */
export interface PermissionsConfig {
  global: Record<string, PermissionValue>;
  agents: Record<string, Record<string, PermissionValue>>;
}

export interface BudgetConfig {
  dailyTokens?: number;
}

export interface AgentsConfig {
  /** Always contains DEFAULT_AGENT. */
  agents: Map<string, AgentConfig>;
  permissions: PermissionsConfig;
  budget: BudgetConfig;
}

export interface ParseAgentsOptions {
  /** The first model of the first provider; used by agents that name none. */
  defaultModel: string | undefined;
  /**
   * What an agent without `tools` is granted: the built-in tools. Grants
   * and permission keys are checked for syntax only, since MCP and
   * extension tools exist only once their servers run; a grant that
   * matches nothing is a warning at start (see the daemon), not an error.
   */
  builtinTools: readonly string[];
  /** $CRABTALK_HOME/agents: where <name>.md system prompts live. */
  agentsDir: string;
  /** $CRABTALK_HOME: the default cwd is its `work` folder, relative cwds resolve under it. */
  home: string;
  /** Reads a prompt file; undefined when it does not exist. Default: the real filesystem. */
  readText?: (path: string) => string | undefined;
}

const AGENT_KEYS = [
  "model",
  "system_prompt",
  "tools",
  "max_iterations",
  "thinking",
  "cwd",
  "max_tokens_per_turn",
  "description",
  "skills",
  "memory",
  "mcp",
  "members",
] as const;
const BUDGET_KEYS = ["daily_tokens"] as const;
/** Agent names become file names (agents/<name>.md) and wire identifiers, so keep them plain. */
const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** Parses the three sections out of the whole config document. */
export function parseAgents(raw: Table, ctx: ConfigContext, opts: ParseAgentsOptions): AgentsConfig {
  const agentsTable = raw.agents ?? {};
  if (!isTable(agentsTable))
    throw new ConfigError(
      ctx.file,
      "agents",
      "expected a table of agents",
      "write each agent as an [agents.<name>] section",
    );

  const agents = new Map<string, AgentConfig>();
  for (const [name, section] of Object.entries(agentsTable)) {
    agents.set(name, parseAgent(name, section, ctx, opts));
  }
  if (!agents.has(DEFAULT_AGENT)) agents.set(DEFAULT_AGENT, parseAgent(DEFAULT_AGENT, {}, ctx, opts));

  return {
    agents,
    permissions: parsePermissions(raw.permissions, ctx, agents),
    budget: parseBudget(raw.budget, ctx),
  };
}

function parseAgent(name: string, section: unknown, ctx: ConfigContext, opts: ParseAgentsOptions): AgentConfig {
  const at = `agents.${name}`;
  if (!AGENT_NAME.test(name)) {
    throw new ConfigError(
      ctx.file,
      at,
      `"${name}" is not a valid agent name`,
      "use letters, digits, - and _ only, starting with a letter or digit",
    );
  }
  if (!isTable(section)) throw new ConfigError(ctx.file, at, "expected a table", `write it as an [${at}] section`);
  rejectUnknownKeys(ctx, at, section, AGENT_KEYS);

  const model =
    section.model !== undefined
      ? expectString(ctx, `${at}.model`, section.model, 'write model = "<model name>"')
      : opts.defaultModel;
  if (model === undefined) {
    throw new ConfigError(
      ctx.file,
      at,
      `agent ${name} has no model`,
      `set model in [${at}], or configure a provider with at least one model`,
    );
  }

  const agent: AgentConfig = {
    name,
    model,
    tools: parseGrant(section.tools, `${at}.tools`, ctx, opts),
    maxIterations: DEFAULT_MAX_ITERATIONS,
    thinking: false,
    cwd: agentCwd(undefined, opts.home),
  };
  // Written only when the config says so: omitted means no skills and shared memory.
  if (section.skills !== undefined) agent.skills = parseSkillGrant(section.skills, `${at}.skills`, ctx);
  if (section.memory !== undefined) agent.memory = parseMemoryScope(section.memory, `${at}.memory`, ctx);
  if (section.members !== undefined)
    agent.members = [
      ...new Set(
        expectStringArray(ctx, `${at}.members`, section.members, 'write members = ["researcher", "coder"] or ["*"]'),
      ),
    ];
  if (section.mcp !== undefined)
    agent.mcp = [...new Set(expectStringArray(ctx, `${at}.mcp`, section.mcp, 'write mcp = ["fs", "docs"]'))];

  const prompt =
    section.system_prompt !== undefined
      ? expectString(
          ctx,
          `${at}.system_prompt`,
          section.system_prompt,
          'write system_prompt = "..." or put the prompt in agents/<name>.md',
        )
      : readPromptFile(join(opts.agentsDir, `${name}.md`), at, ctx, opts.readText ?? readIfExists);
  if (prompt !== undefined && prompt.trim() !== "") agent.systemPrompt = prompt;

  if (section.description !== undefined)
    agent.description = expectString(ctx, `${at}.description`, section.description, 'write description = "..."');
  if (section.max_iterations !== undefined)
    agent.maxIterations = positiveInteger(ctx, `${at}.max_iterations`, section.max_iterations);
  if (section.max_tokens_per_turn !== undefined)
    agent.maxTokensPerTurn = positiveInteger(ctx, `${at}.max_tokens_per_turn`, section.max_tokens_per_turn);
  if (section.thinking !== undefined)
    agent.thinking = expectBool(ctx, `${at}.thinking`, section.thinking, "write thinking = true or thinking = false");
  if (section.cwd !== undefined) {
    const cwd = expectString(ctx, `${at}.cwd`, section.cwd, 'write cwd = "~/work" or an absolute path');
    if (cwd.trim() === "")
      throw new ConfigError(
        ctx.file,
        `${at}.cwd`,
        "is empty",
        "remove it to use $CRABTALK_HOME/work, or give a directory",
      );
    agent.cwd = agentCwd(cwd, opts.home, ctx.env);
  }
  return agent;
}

function parseGrant(raw: unknown, key: string, ctx: ConfigContext, opts: ParseAgentsOptions): string[] {
  if (raw === undefined) return [...opts.builtinTools];
  const tools = expectStringArray(ctx, key, raw, 'write tools = ["bash", "read"]');
  for (const tool of tools) {
    const problem = grantSyntaxError(tool);
    if (problem) {
      throw new ConfigError(
        ctx.file,
        key,
        `"${tool}" is not a grant: ${problem}`,
        'name a tool ("bash"), a pattern ("fs__*"), every tool of a source ("search/*") or every tool ("*")',
      );
    }
  }
  return [...new Set(tools)];
}

function parsePermissions(
  raw: unknown,
  ctx: ConfigContext,
  agents: ReadonlyMap<string, AgentConfig>,
): PermissionsConfig {
  const result: PermissionsConfig = { global: {}, agents: {} };
  if (raw === undefined) return result;
  if (!isTable(raw))
    throw new ConfigError(
      ctx.file,
      "permissions",
      "expected a table",
      'write it as a [permissions] section with lines like bash = "ask"',
    );

  for (const [key, value] of Object.entries(raw)) {
    if (isTable(value)) {
      if (!agents.has(key)) {
        throw new ConfigError(
          ctx.file,
          `permissions.${key}`,
          `no agent is called "${key}"`,
          `add an [agents.${key}] section or use one of: ${[...agents.keys()].join(", ")}`,
        );
      }
      result.agents[key] = parseRuleTable(value, `permissions.${key}`, ctx);
    } else {
      Object.assign(result.global, parseRuleTable({ [key]: value }, "permissions", ctx));
    }
  }
  return result;
}

function parseRuleTable(table: Table, at: string, ctx: ConfigContext): Record<string, PermissionValue> {
  const rules: Record<string, PermissionValue> = {};
  for (const [tool, value] of Object.entries(table)) {
    const problem = tool === PERMISSION_WILDCARD ? undefined : grantSyntaxError(tool);
    if (problem) {
      throw new ConfigError(
        ctx.file,
        at,
        `"${tool}" is not a tool name or pattern: ${problem}`,
        'use "*", a tool name ("bash") or a pattern ("fs__*", "search/*")',
        undefined,
        `${at}.${tool}`,
      );
    }
    if (typeof value !== "string" || !(PERMISSION_VALUES as readonly string[]).includes(value)) {
      const shown = typeof value === "string" ? `"${value}"` : String(value);
      throw new ConfigError(
        ctx.file,
        `${at}.${tool}`,
        `unknown permission ${shown}`,
        `write ${tool === PERMISSION_WILDCARD ? '"*"' : tool} = "allow", "ask" or "deny"`,
      );
    }
    rules[tool] = value as PermissionValue;
  }
  return rules;
}

function parseBudget(raw: unknown, ctx: ConfigContext): BudgetConfig {
  if (raw === undefined) return {};
  if (!isTable(raw))
    throw new ConfigError(
      ctx.file,
      "budget",
      "expected a table",
      "write it as a [budget] section with daily_tokens = <number>",
    );
  rejectUnknownKeys(ctx, "budget", raw, BUDGET_KEYS);
  return raw.daily_tokens === undefined
    ? {}
    : { dailyTokens: positiveInteger(ctx, "budget.daily_tokens", raw.daily_tokens) };
}

function positiveInteger(ctx: ConfigContext, key: string, v: unknown): number {
  const n = expectNumber(ctx, key, v, `set ${key.split(".").at(-1)} to a positive whole number`);
  if (n <= 0 || !Number.isInteger(n))
    throw new ConfigError(
      ctx.file,
      key,
      `must be a positive whole number, got ${n}`,
      `set ${key.split(".").at(-1)} to a whole number above 0`,
    );
  return n;
}

function readPromptFile(
  path: string,
  at: string,
  ctx: ConfigContext,
  read: (path: string) => string | undefined,
): string | undefined {
  try {
    return read(path);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(
      ctx.file,
      at,
      `cannot read the system prompt file ${path}: ${reason}`,
      "make the file readable, remove it, or set system_prompt",
    );
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if (typeof err === "object" && err !== null && "code" in err && (err.code === "ENOENT" || err.code === "ENOTDIR"))
      return undefined;
    throw err;
  }
}

/** An agent's working folder: `cwd` resolved against the home (`~` expanded), $CRABTALK_HOME/work when unset. */
export function agentCwd(cwd: string | undefined, home: string, env?: Record<string, string | undefined>): string {
  return cwd === undefined ? join(home, "work") : resolve(home, expandTilde(cwd, env));
}
