/**
 * Builds an agent as its next turn runs it: the system prompt with the
 * build-agent hooks' additions (cached until the settings or the hooks
 * change, since a hook may be an extension round trip) and its tools
 * resolved from the registry at that moment (cheap, and always current:
 * a server that connected a second ago is there), then the turnPrompt
 * hooks' additions, asked afresh every turn. Also reports what each
 * agent's grants resolve to.
 */
import type { Tool, ToolLookup, ToolSource } from "../agent/types.ts";
import type { ResolvedTools, ToolRegistry } from "../tools/registry.ts";
import { Grants } from "../util/grants.ts";
import type { HookHub } from "./hooks.ts";
import type { AgentSpec } from "./settings.ts";
import type { BuiltAgent } from "./turn.ts";

type HookTool = { tool: Tool; source: ToolSource };
type Prompt = { system?: string; hookTools: HookTool[] };

export interface GrantReport {
  agent: string;
  model: string;
  grants: { grant: string; tools: string[] }[];
  /** The agent's configured working directory: its tools run there. */
  cwd: string;
}

export class AgentBuilder {
  private readonly prompts = new Map<string, { key: string; prompt: Promise<Prompt> }>();
  private settingsGeneration = 0;

  constructor(
    private readonly registry: ToolRegistry,
    private readonly hooks: HookHub,
  ) {}

  /** New settings: every prompt is rebuilt on next use. */
  invalidate(): void {
    this.settingsGeneration++;
  }

  /**
   * `latest` gives the agent's spec as the settings hold it now: the build
   * hooks may change settings (an MCP server connecting for this agent's
   * first turn brings its tool count, and with it the agent's grants), so
   * tools are resolved with the grants as they are after the hooks ran.
   */
  async build(spec: AgentSpec, latest: () => AgentSpec | undefined = () => spec): Promise<BuiltAgent> {
    const key = `${this.settingsGeneration}:${this.hooks.version}`;
    let cached = this.prompts.get(spec.name);
    if (!cached || cached.key !== key) {
      cached = { key, prompt: this.buildPrompt(spec) };
      this.prompts.set(spec.name, cached);
    }
    const { system: cachedSystem, hookTools } = await cached.prompt;
    const grants = new Grants((latest() ?? spec).grants);
    const resolved = this.registry.resolve(grants, { name: spec.name, cwd: spec.cwd });
    const perTurn = await this.hooks.turnPrompt({ name: spec.name });
    const system = [cachedSystem, ...perTurn].filter((p) => p !== undefined && p.length > 0).join("\n\n") || undefined;
    return { spec, ...(system !== undefined ? { system } : {}), tools: withHookTools(resolved, hookTools, grants) };
  }

  private async buildPrompt(spec: AgentSpec): Promise<Prompt> {
    const { promptAdditions, tools } = await this.hooks.buildAgent({
      name: spec.name,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      ...(spec.system !== undefined ? { systemPrompt: spec.system } : {}),
      tools: spec.grants,
    });
    const parts = [spec.system, ...promptAdditions].filter((p): p is string => p !== undefined && p.length > 0);
    return { ...(parts.length > 0 ? { system: parts.join("\n\n") } : {}), hookTools: tools };
  }

  /** Each agent's grants and the tools each resolves to now (for status and `crabtalk agents`). */
  grantReport(agents: Iterable<AgentSpec>): GrantReport[] {
    const all = this.registry.all();
    return [...agents].map((spec) => ({
      agent: spec.name,
      model: spec.model,
      grants: new Grants(spec.grants).resolve(all),
      cwd: spec.cwd,
    }));
  }
}

/** The registry's tools plus the build-agent hooks' tools for this agent (hook tools first on a name clash). */
function withHookTools(resolved: ResolvedTools, hookTools: readonly HookTool[], grants: Grants): ResolvedTools {
  if (hookTools.length === 0) return resolved;
  const own = new Map(hookTools.map((t) => [t.tool.name, t]));
  const granted = hookTools.filter((t) => grants.allows(t.tool.name, t.source)).map((t) => t.tool);
  return {
    tools: [...resolved.tools.filter((t) => !own.has(t.name)), ...granted],
    lookup: (name): ToolLookup => {
      const hit = own.get(name);
      return hit ? { found: "tool", entry: hit } : resolved.lookup(name);
    },
    granted: resolved.granted,
  };
}
