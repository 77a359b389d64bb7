/**
 * Every configured MCP server, wired into the runtime:
 *
 * - each server's tools in the registry under source {kind: "mcp", name},
 *   re-registered whenever its tool list changes;
 * - the grants: an agent's `mcp = [...]` becomes "<server>/*" grants, or the
 *   single `mcp` meta-tool when the agent would see more than the threshold
 *   of tools (decided on the tool counts known when its turn starts);
 * - lazy start: a build-agent hook connects a granted server whose tools are
 *   not known yet before the turn resolves its tools (so the first turn
 *   already sees them), skipping one that failed and is backing off;
 *   eager servers connect at start;
 * - status for `crabtalk mcp` and direct calls for `crabtalk mcp call`.
 */
import type { McpConfig, McpServerConfig } from "../config/mcp.ts";
import { META_TOOL } from "../config/mcp.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import { errorMessage } from "../util/abort.ts";
import { logger } from "../util/log.ts";
import type { ToolOutput } from "../agent/types.ts";
import { metaTool } from "./meta.ts";
import { McpServer, type McpState } from "./server.ts";
import { callTool, registryTool, toolName } from "./tools.ts";

const log = logger("mcp");

export interface McpToolStatus {
  /** As the model sees it: <server>__<tool>. */
  name: string;
  /** As the server names it. */
  serverTool: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface McpServerStatus {
  name: string;
  transport: "stdio" | "http";
  /** The command line or URL. */
  target: string;
  /** "disabled" for a server configured with enabled = false. */
  state: McpState | "disabled";
  error?: string;
  /** null until the server has listed its tools once. */
  tools: McpToolStatus[] | null;
  pid?: number;
  restarts: number;
  lastUsedMs: number;
}

export interface HubOptions {
  config: McpConfig;
  /** agent -> granted server names, as configured. */
  agentServers: ReadonlyMap<string, readonly string[]>;
  runtime: SessionRuntime;
  logsDir: string;
  home: string;
  env: Record<string, string | undefined>;
  /** Rebuilds the runtime's settings (grants follow tool counts). */
  rebuild(): void;
}

export class McpHub {
  readonly servers = new Map<string, McpServer>();
  /** Configured with enabled = false: listed, never started. */
  private readonly disabled: McpServerConfig[] = [];
  private readonly removeHook: () => void;

  constructor(private options: HubOptions) {
    const { runtime } = options;
    for (const config of options.config.servers) {
      if (!config.enabled) {
        this.disabled.push(config);
        continue;
      }
      this.servers.set(
        config.name,
        new McpServer(config, {
          logsDir: options.logsDir,
          home: options.home,
          env: options.env,
          onChange: (server, what) => this.changed(server, what),
        }),
      );
    }
    runtime.registry.setSource({ kind: "mcp", name: META_TOOL }, [
      metaTool({
        serversFor: (agent) => this.serversFor(agent),
        permission: (agent, tool, server) => runtime.settings.permissions.explain(agent, tool, { name: server }),
      }),
    ]);
    const longest = Math.max(0, ...[...this.servers.values()].map((s) => s.config.connectTimeoutMs));
    this.removeHook = runtime.hooks.add({
      name: "mcp",
      source: { kind: "mcp", name: META_TOOL },
      timeoutMs: longest + 2000,
      buildAgent: async (agent, signal) => {
        await this.prepare(agent.name, signal);
        return undefined;
      },
    });
    for (const server of this.servers.values())
      if (server.config.eager)
        server.ensure().catch((err) => log.warn(`mcp ${server.name}: eager start failed: ${errorMessage(err)}`));
  }

  /** The grants standing for an agent's `mcp = [...]`. */
  grantsFor(agent: string): string[] {
    const servers = this.serversFor(agent);
    if (servers.length === 0) return [];
    const known = servers.reduce((n, s) => n + (s.tools?.length ?? 0), 0);
    if (known > this.options.config.toolThreshold) return [META_TOOL];
    return servers.map((s) => `${s.name}/*`);
  }

  serversFor(agent: string): McpServer[] {
    const names = this.options.agentServers.get(agent) ?? [];
    return names.map((n) => this.servers.get(n)).filter((s): s is McpServer => s !== undefined);
  }

  /** Connects the agent's servers whose tools are not known yet (in parallel; failures are the servers' state). */
  private async prepare(agent: string, signal: AbortSignal): Promise<void> {
    const pending = this.serversFor(agent).filter((s) => s.tools === null && !s.backingOff);
    await Promise.all(pending.map((s) => s.ensure(signal).catch(() => undefined)));
  }

  private changed(server: McpServer, what: "state" | "tools"): void {
    if (what === "tools") {
      const tools = (server.tools ?? []).map((t) => registryTool(server, t));
      const { refused } = this.options.runtime.registry.setSource({ kind: "mcp", name: server.name }, tools);
      for (const r of refused) log.warn(`mcp ${server.name}: tool ${r.name} not registered: ${r.reason}`);
      this.options.rebuild();
      return;
    }
    if (server.state === "failed") this.announce(server, "error", `mcp server ${server.name} failed: ${server.error}`);
    else if (server.state === "ready" && server.restarts > 0)
      this.announce(server, "warn", `mcp server ${server.name} is ready again (restart ${server.restarts})`);
    else this.announce(server, "info", `mcp server ${server.name} is ${server.state}`);
    if (server.state === "failed" && server.config.restart === "never")
      this.options.runtime.registry.withdrawSource(
        { kind: "mcp", name: server.name },
        `mcp server ${server.name} failed: ${server.error} (restart = "never")`,
      );
  }

  /**
   * Every state change (idle, connecting, ready, failed; recoveries as
   * warnings) goes to every `SubscribeEvents` watcher as a notice outside
   * any session (session 0, no agent), as hook failures do inside one.
   */
  private announce(server: McpServer, level: "info" | "warn" | "error", message: string): void {
    this.options.runtime.publishDaemonEvent({
      kind: "notice",
      data: { source: `mcp:${server.name}`, level, message },
    });
  }

  list(): McpServerStatus[] {
    return [
      ...[...this.servers.values()].map((s) => status(s)),
      ...this.disabled.map((config) => ({
        name: config.name,
        transport: config.transport.kind,
        target: targetOf(config),
        state: "disabled" as const,
        tools: null,
        restarts: 0,
        lastUsedMs: 0,
      })),
    ];
  }

  /** One server's status, connecting it first so its tools are listed; not_found names the servers. */
  async describe(name: string, signal?: AbortSignal): Promise<McpServerStatus> {
    const server = this.server(name);
    await server.ensure(signal).catch(() => undefined);
    return status(server);
  }

  /** A call from `crabtalk mcp call`: no agent, no grants; the daemon's owner debugging a server. */
  async call(name: string, tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutput> {
    return callTool(this.server(name), tool, args, signal);
  }

  private server(name: string): McpServer {
    const server = this.servers.get(name);
    if (!server) {
      if (this.disabled.some((c) => c.name === name))
        throw new McpNotFound(
          `MCP server "${name}" is disabled; set enabled = true in [mcp.${name}] and restart the daemon`,
        );
      const names = [...this.servers.keys()];
      throw new McpNotFound(
        `no MCP server is called "${name}"; ${names.length > 0 ? `configured: ${names.join(", ")}` : "none is configured"}`,
      );
    }
    return server;
  }

  /**
   * A reload: servers whose settings are unchanged keep their connection
   * (and process); a changed one is stopped and replaced (it reconnects on
   * next use, or at once when eager); a removed one stops and its tools are
   * forgotten; agents' grants follow the new config. One line per change.
   */
  async reconcile(config: McpConfig, agentServers: ReadonlyMap<string, readonly string[]>): Promise<string[]> {
    const changes: string[] = [];
    this.options = { ...this.options, config, agentServers };
    const enabled = new Map(config.servers.filter((s) => s.enabled).map((s) => [s.name, s]));
    this.disabled.length = 0;
    this.disabled.push(...config.servers.filter((s) => !s.enabled));
    for (const [name, server] of this.servers) {
      if (enabled.has(name)) continue;
      await server.stop();
      this.servers.delete(name);
      this.options.runtime.registry.removeSource({ kind: "mcp", name });
      changes.push(`mcp server ${name} removed`);
    }
    for (const cfg of enabled.values()) {
      const old = this.servers.get(cfg.name);
      if (old && JSON.stringify(old.config) === JSON.stringify(cfg)) continue;
      if (old) {
        await old.stop();
        this.options.runtime.registry.removeSource({ kind: "mcp", name: cfg.name });
      }
      const server = new McpServer(cfg, {
        logsDir: this.options.logsDir,
        home: this.options.home,
        env: this.options.env,
        onChange: (s, what) => this.changed(s, what),
      });
      this.servers.set(cfg.name, server);
      if (cfg.eager)
        server.ensure().catch((err) => log.warn(`mcp ${server.name}: eager start failed: ${errorMessage(err)}`));
      changes.push(old ? `mcp server ${cfg.name} changed: reconnects` : `mcp server ${cfg.name} added`);
    }
    return changes;
  }

  /** Stops every server (stdio children end); for daemon shutdown. */
  async close(): Promise<void> {
    this.removeHook();
    await Promise.all([...this.servers.values()].map((s) => s.stop()));
  }
}

export class McpNotFound extends Error {
  override readonly name = "McpNotFound";
}

function targetOf(config: McpServerConfig): string {
  const t = config.transport;
  return t.kind === "http" ? t.url : [t.command, ...t.args].join(" ");
}

function status(s: McpServer): McpServerStatus {
  return {
    name: s.name,
    transport: s.config.transport.kind,
    target: targetOf(s.config),
    state: s.state,
    ...(s.error !== undefined ? { error: s.error } : {}),
    tools:
      s.tools?.map((tool) => ({
        name: toolName(s.name, tool.name),
        serverTool: tool.name,
        description: tool.description ?? "",
        inputSchema: tool.inputSchema as Record<string, unknown>,
      })) ?? null,
    ...(s.pid !== undefined ? { pid: s.pid } : {}),
    restarts: s.restarts,
    lastUsedMs: s.lastUsed,
  };
}
