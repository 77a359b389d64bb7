/**
 * The tool registry: every tool an agent could be given, from every source
 * (built-in, MCP servers, extensions, delegation, memory, skills), in one
 * place. Sources register and withdraw their tools at run time; an agent's
 * tools are resolved from its grants whenever a turn asks, so a server that
 * connects later or an extension that restarts needs no daemon restart.
 *
 * Some tools depend on the agent using them (the built-ins work in the
 * agent's cwd): such a source registers a per-agent factory, instantiated
 * once per agent scope and cached.
 *
 * A tool that a source withdrew, or whose source is down, is remembered as
 * unavailable with the reason, so a model calling it reads "unavailable:
 * <why>" rather than "unknown tool". Names are unique across sources: a
 * second registration of a taken name is refused (never silently shadows).
 */
import type { Tool, ToolLookup, ToolSource } from "../agent/types.ts";
import type { Grants } from "../util/grants.ts";

/** What a per-agent tool is built for. */
export interface AgentScope {
  name: string;
  cwd: string;
}

/** A tool built per agent (the built-ins, whose paths resolve in the agent's cwd). */
export interface ScopedTool {
  name: string;
  forAgent(scope: AgentScope): Tool;
}

export type ToolEntry = Tool | ScopedTool;

export interface RegisteredTool {
  name: string;
  source: ToolSource;
  /** The tool as this agent uses it. */
  forAgent(scope: AgentScope): Tool;
}

function isScoped(t: ToolEntry): t is ScopedTool {
  return typeof (t as ScopedTool).forAgent === "function";
}

function registered(entry: ToolEntry, source: ToolSource): RegisteredTool {
  if (!isScoped(entry)) return { name: entry.name, source, forAgent: () => entry };
  const cache = new Map<string, Tool>();
  return {
    name: entry.name,
    source,
    forAgent: (scope) => {
      const key = `${scope.name}\u0000${scope.cwd}`;
      let tool = cache.get(key);
      if (!tool) {
        tool = entry.forAgent(scope);
        cache.set(key, tool);
      }
      return tool;
    },
  };
}

/** An agent's view of the registry at one moment. */
export interface ResolvedTools {
  /** Granted and available now: shown to the model. */
  tools: Tool[];
  /** Live: a tool withdrawn after resolution answers "unavailable". */
  lookup(name: string): ToolLookup;
  /** Whether the agent is granted `name` (available or not). */
  granted(name: string, source: ToolSource): boolean;
}

export class ToolRegistryError extends Error {
  override readonly name = "ToolRegistryError";
}

export class ToolRegistry {
  private readonly byName = new Map<string, RegisteredTool>();
  /** Names withdrawn or out of service, with why: their calls answer "unavailable". */
  private readonly unavailable = new Map<string, { source: ToolSource; reason: string }>();
  private readonly listeners = new Set<() => void>();
  private generation = 0;

  /** Bumped on every change, so callers can cache what they derived from the registry. */
  get version(): number {
    return this.generation;
  }

  /**
   * Replaces every tool of `source` with `tools`. A name taken by another
   * source is refused: the returned list says which and why; the others
   * register. Names the source no longer offers become unavailable.
   */
  setSource(source: ToolSource, tools: readonly ToolEntry[]): { refused: { name: string; reason: string }[] } {
    const refused: { name: string; reason: string }[] = [];
    const offered = new Set<string>();
    for (const tool of tools) {
      const taken = this.byName.get(tool.name);
      if (taken && !sameSource(taken.source, source)) {
        refused.push({
          name: tool.name,
          reason: `the name is taken by ${describeSource(taken.source)}; rename one of them`,
        });
        continue;
      }
      if (offered.has(tool.name)) {
        refused.push({ name: tool.name, reason: `${describeSource(source)} offers it twice` });
        continue;
      }
      offered.add(tool.name);
    }
    for (const [name, entry] of this.byName) {
      if (sameSource(entry.source, source) && !offered.has(name)) {
        this.byName.delete(name);
        this.unavailable.set(name, { source, reason: `${describeSource(source)} no longer offers it` });
      }
    }
    for (const tool of tools) {
      if (!offered.has(tool.name)) continue;
      this.byName.set(tool.name, registered(tool, source));
      this.unavailable.delete(tool.name);
    }
    this.changed();
    return { refused };
  }

  /** Marks every tool of `source` unavailable with `reason` (a server down, an extension restarting). */
  withdrawSource(source: ToolSource, reason: string): void {
    for (const [name, entry] of this.byName) {
      if (!sameSource(entry.source, source)) continue;
      this.byName.delete(name);
      this.unavailable.set(name, { source, reason });
    }
    for (const u of this.unavailable.values()) if (sameSource(u.source, source)) u.reason = reason;
    this.changed();
  }

  /** Forgets `source` entirely (removed from the config): its names become unknown. */
  removeSource(source: ToolSource): void {
    for (const [name, entry] of this.byName) if (sameSource(entry.source, source)) this.byName.delete(name);
    for (const [name, u] of this.unavailable) if (sameSource(u.source, source)) this.unavailable.delete(name);
    this.changed();
  }

  get(name: string): RegisteredTool | undefined {
    return this.byName.get(name);
  }

  all(): RegisteredTool[] {
    return [...this.byName.values()];
  }

  lookup(name: string, scope: AgentScope): ToolLookup {
    const entry = this.byName.get(name);
    if (entry) return { found: "tool", entry: { tool: entry.forAgent(scope), source: entry.source } };
    const u = this.unavailable.get(name);
    if (u) return { found: "unavailable", source: u.source, reason: u.reason };
    return { found: "none" };
  }

  /** The tools `grants` give an agent, as of now. */
  resolve(grants: Grants, scope: AgentScope): ResolvedTools {
    const tools = this.all()
      .filter((e) => grants.allows(e.name, e.source))
      .map((e) => e.forAgent(scope));
    return {
      tools,
      lookup: (name) => this.lookup(name, scope),
      granted: (name, source) => grants.allows(name, source),
    };
  }

  /** Called after every change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.generation++;
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the registry stays consistent.
      }
    }
  }
}

function sameSource(a: ToolSource, b: ToolSource): boolean {
  return a.kind === b.kind && a.name === b.name;
}

export function describeSource(s: ToolSource): string {
  switch (s.kind) {
    case "builtin":
      return "the built-in tools";
    case "mcp":
      return `MCP server ${s.name}`;
    case "extension":
      return `extension ${s.name}`;
    default:
      return `${s.kind} ${s.name}`;
  }
}
