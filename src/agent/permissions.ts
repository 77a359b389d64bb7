/**
 * The permission engine: given the `[permissions]` tables and each agent's
 * grant list, decides whether a call to a tool runs (allow), waits for a
 * human (ask) or is refused (deny). Pure data in, answer out; the session
 * layer turns "ask" into an approval request.
 *
 * Precedence, first match wins:
 *  1. A tool that is not in the agent's grant list is always deny. An agent
 *     with no grant list at all (unknown agent) is denied everything.
 *  2. The agent's own table `[permissions.<agent>]`, if any rule in it
 *     applies to the tool (its exact name or the wildcard "*").
 *  3. The global table `[permissions]`, same way.
 *  4. Nothing says anything: allow.
 * Within one table, when both the exact name and "*" apply, deny wins
 * outright; otherwise the exact name beats the wildcard. So `"*" = "deny"`
 * with `read = "allow"` denies read, while `"*" = "ask"` with
 * `read = "allow"` allows read without asking.
 * Across tables the agent's table decides whenever it says anything, so a
 * per-agent table can loosen a global rule as well as tighten it
 * (`[permissions] bash = "deny"` plus `[permissions.ops] bash = "allow"`
 * lets only ops run bash).
 */
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
  decide(agent: string, tool: string): Permission;
  /** The same decision with the rule that made it. */
  explain(agent: string, tool: string): PermissionDecision;
}

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
  const grantMap = new Map<string, Set<string>>(
    (grants instanceof Map ? [...grants.entries()] : Object.entries(grants)).map(([agent, tools]) => [
      agent,
      new Set(tools),
    ]),
  );

  const explain = (agent: string, tool: string): PermissionDecision => {
    const granted = grantMap.get(agent);
    if (!granted) return { permission: "deny", reason: `agent ${agent} is not configured` };
    if (!granted.has(tool)) return { permission: "deny", reason: `tool ${tool} is not granted to agent ${agent}` };

    const agentTable = perAgent.get(agent);
    const fromAgent = agentTable && fromTable(agentTable, tool, `[permissions.${agent}]`);
    if (fromAgent) return fromAgent;
    const fromGlobal = fromTable(global, tool, "[permissions]");
    if (fromGlobal) return fromGlobal;
    return { permission: "allow", reason: "no permission rule applies; the default is allow" };
  };

  return { explain, decide: (agent, tool) => explain(agent, tool).permission };
}

/** The decision of one table, or undefined when no rule in it applies to `tool`. */
function fromTable(
  table: ReadonlyMap<string, Permission>,
  tool: string,
  where: string,
): PermissionDecision | undefined {
  const exact = table.get(tool);
  const wildcard = table.get(WILDCARD);
  if (exact === "deny") return { permission: "deny", reason: `${where} ${tool} = "deny"` };
  if (wildcard === "deny") {
    const over = exact ? ` (deny wins over ${tool} = "${exact}")` : "";
    return { permission: "deny", reason: `${where} "*" = "deny"${over}` };
  }
  if (exact) return { permission: exact, reason: `${where} ${tool} = "${exact}"` };
  if (wildcard) return { permission: wildcard, reason: `${where} "*" = "${wildcard}"` };
  return undefined;
}
