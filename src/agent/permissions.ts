/**
 * The permission engine: given the `[permissions]` tables and each agent's
 * grant list, decides whether a call to a tool runs (allow), waits for a
 * human (ask) or is refused (deny). Pure data in, answer out; the session
 * layer turns "ask" into an approval request.
 *
 * Precedence, first match wins:
 *  1. A tool that no grant of the agent matches is always deny. An agent
 *     with no grant list at all (unknown agent) is denied everything.
 *  2. The agent's own table `[permissions.<agent>]`, if any rule in it
 *     applies to the tool (its exact name, a pattern such as "fs__*" or
 *     "search/*" that matches it, or the wildcard "*").
 *  3. The global table `[permissions]`, same way.
 *  4. Nothing says anything: allow.
 * Within one table, when several rules apply, deny wins outright;
 * otherwise the exact name beats a pattern, and a pattern beats "*". So `"*" = "deny"`
 * with `read = "allow"` denies read, while `"*" = "ask"` with
 * `read = "allow"` allows read without asking.
 * Across tables the agent's table decides whenever it says anything, so a
 * per-agent table can loosen a global rule as well as tighten it
 * (`[permissions] bash = "deny"` plus `[permissions.ops] bash = "allow"`
 * lets only ops run bash).
 */
import { Grants, parseGrant, type GrantSource } from "../util/grants.ts";
import type { Permission } from "./types.ts";

export const WILDCARD = "*";

/** Same shape as config's PermissionsConfig (config may not import agent, so the type is structural). */
export interface PermissionRules {
  /** `[permissions]`: tool name or "*" → permission. */
  global: Readonly<Record<string, Permission>>;
  /** `[permissions.<agent>]`: agent → (tool name or "*" → permission). */
  agents: Readonly<Record<string, Readonly<Record<string, Permission>>>>;
}

export interface PermissionDecision {
  permission: Permission;
  /** Which rule decided, in words a user or model can act on. */
  reason: string;
}

export interface PermissionEngine {
  /** `source` is where the tool comes from (for "server/*" rules); built-in when omitted. */
  decide(agent: string, tool: string, source?: GrantSource): Permission;
  /** The same decision with the rule that made it. */
  explain(agent: string, tool: string, source?: GrantSource): PermissionDecision;
}

const BUILTIN_SOURCE: GrantSource = { name: "builtin" };

/**
 * `grants` maps each agent to the tool names it is granted. Tables are
 * copied so later mutation of the inputs does not change decisions.
 */
export function createPermissionEngine(
  rules: PermissionRules,
  grants: ReadonlyMap<string, readonly string[]> | Readonly<Record<string, readonly string[]>>,
): PermissionEngine {
  const global = new Map(Object.entries(rules.global));
  const perAgent = new Map(
    Object.entries(rules.agents).map(([agent, table]) => [agent, new Map(Object.entries(table))]),
  );
  const grantMap = new Map<string, Grants>(
    (grants instanceof Map ? [...grants.entries()] : Object.entries(grants)).map(([agent, tools]) => [
      agent,
      new Grants(tools),
    ]),
  );

  const explain = (agent: string, tool: string, source: GrantSource = BUILTIN_SOURCE): PermissionDecision => {
    const granted = grantMap.get(agent);
    if (!granted) return { permission: "deny", reason: `agent ${agent} is not configured` };
    if (!granted.allows(tool, source))
      return { permission: "deny", reason: `tool ${tool} is not granted to agent ${agent}` };

    const agentTable = perAgent.get(agent);
    const fromAgent = agentTable && fromTable(agentTable, tool, source, `[permissions.${agent}]`);
    if (fromAgent) return fromAgent;
    const fromGlobal = fromTable(global, tool, source, "[permissions]");
    if (fromGlobal) return fromGlobal;
    return { permission: "allow", reason: "no permission rule applies; the default is allow" };
  };

  return { explain, decide: (agent, tool, source) => explain(agent, tool, source).permission };
}

/** The decision of one table, or undefined when no rule in it applies to `tool`. */
function fromTable(
  table: ReadonlyMap<string, Permission>,
  tool: string,
  source: GrantSource,
  where: string,
): PermissionDecision | undefined {
  const exact = table.get(tool);
  const wildcard = table.get(WILDCARD);
  let pattern: { key: string; permission: Permission } | undefined;
  for (const [key, permission] of table) {
    if (key === tool || key === WILDCARD || !key.includes("*") || !parseGrant(key).matches(tool, source)) continue;
    if (permission === "deny" || !pattern) pattern = { key, permission };
    if (permission === "deny") break;
  }
  if (exact === "deny") return { permission: "deny", reason: `${where} ${tool} = "deny"` };
  const softer = exact ? ` (deny wins over ${tool} = "${exact}")` : "";
  if (pattern?.permission === "deny")
    return { permission: "deny", reason: `${where} "${pattern.key}" = "deny"${softer}` };
  if (wildcard === "deny") return { permission: "deny", reason: `${where} "*" = "deny"${softer}` };
  if (exact) return { permission: exact, reason: `${where} ${tool} = "${exact}"` };
  if (pattern) return { permission: pattern.permission, reason: `${where} "${pattern.key}" = "${pattern.permission}"` };
  if (wildcard) return { permission: wildcard, reason: `${where} "*" = "${wildcard}"` };
  return undefined;
}
