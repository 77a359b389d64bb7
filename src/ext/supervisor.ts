/**
 * Services: every [services.<name>] of the config, each supervised by its
 * own ServiceHost. Start returns at once (the daemon's socket serves
 * before any service is ready); stop ends every child. What the client
 * protocol asks of services (status, queries, schemas, config, restart)
 * comes through here.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ServiceConfig } from "../config/services.ts";
import { logger } from "../util/log.ts";
import { ServiceUnavailable } from "./client.ts";
import type { HostDeps } from "./deps.ts";
import { ServiceHost, type ServiceState } from "./host.ts";
import { ORPHAN_PROOF } from "./spawn.ts";
import { checkTomlValue, writeServiceConfig } from "./config-file.ts";

const log = logger("services");

export interface ServiceStatus {
  name: string;
  kind: string;
  state: ServiceState;
  pid: number;
  restarts: number;
  uptimeMs: number;
  capabilities: string[];
  tools: string[];
  lastError: string;
  lastExitCode: number;
  droppedEvents: number;
  hasConfig: boolean;
  config: string;
}

export class UnknownService extends Error {
  override readonly name = "UnknownService";
  constructor(service: string, known: string[]) {
    super(
      `no service is called "${service}"; configured: ${known.join(", ") || "none"} (add a [services.${service}] section to crabtalk.toml)`,
    );
  }
}

export class Services {
  private readonly hosts = new Map<string, ServiceHost>();

  constructor(
    configs: readonly ServiceConfig[],
    private readonly deps: HostDeps,
    private readonly configFile: string,
  ) {
    for (const cfg of configs) this.hosts.set(cfg.name, new ServiceHost(cfg, deps));
  }

  /** Starts every enabled service in the background; returns at once. */
  start(): void {
    if (this.hosts.size === 0) return;
    try {
      mkdirSync(join(this.deps.paths.home, "services"), { recursive: true, mode: 0o700 });
    } catch (err) {
      // Each extension then fails to listen and says so in its status; the daemon serves on.
      log.error(`cannot create ${join(this.deps.paths.home, "services")}: ${(err as Error).message}`);
    }
    if (!ORPHAN_PROOF.ok) log.warn(ORPHAN_PROOF.why);
    for (const host of this.hosts.values()) if (host.cfg.enabled) host.start();
  }

  /** Stops every service, all at once. */
  async stop(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((h) => h.stop()));
  }

  list(): ServiceStatus[] {
    return [...this.hosts.values()].map((h) => ({
      name: h.cfg.name,
      kind: h.cfg.kind,
      state: h.state,
      pid: h.pid,
      restarts: h.restarts,
      uptimeMs: h.runningSince ? Date.now() - h.runningSince : 0,
      capabilities: h.capabilities,
      tools: h.tools,
      lastError: h.lastError,
      lastExitCode: h.lastExitCode,
      droppedEvents: h.droppedEvents,
      hasConfig: h.cfg.hasConfig,
      config: h.cfg.config,
    }));
  }

  host(name: string): ServiceHost {
    const host = this.hosts.get(name);
    if (!host) throw new UnknownService(name, [...this.hosts.keys()]);
    return host;
  }

  /** ExtServiceQuery to the running extension; its answer. */
  async query(name: string, query: string, signal?: AbortSignal): Promise<string> {
    const host = this.host(name);
    const reply = await this.running(host).call(
      { serviceQuery: { query } },
      { timeoutMs: host.cfg.timeoutMs, ...(signal ? { signal } : {}) },
    );
    if (reply.msg !== "serviceQueryResult") throw new Error(`${name} answered ${reply.msg ?? "nothing"} to a query`);
    return reply.serviceQueryResult?.result ?? "";
  }

  /** ExtGetSchema to the running extension; its schema text. */
  async schema(name: string, signal?: AbortSignal): Promise<string> {
    const host = this.host(name);
    const reply = await this.running(host).call(
      { getSchema: {} },
      { timeoutMs: host.cfg.timeoutMs, ...(signal ? { signal } : {}) },
    );
    if (reply.msg !== "schemaResult") throw new Error(`${name} answered ${reply.msg ?? "nothing"} to a schema request`);
    return reply.schemaResult?.schema ?? "";
  }

  /** The schema of every running extension that answers; one that fails is left out (and logged). */
  async allSchemas(signal?: AbortSignal): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    await Promise.all(
      [...this.hosts.values()]
        .filter((h) => h.connection)
        .map(async (h) => {
          try {
            out[h.cfg.name] = await this.schema(h.cfg.name, signal);
          } catch (err) {
            log.info(`${h.cfg.name}: no schema (${(err as Error).message})`);
          }
        }),
    );
    return out;
  }

  /**
   * Validates `json` (a JSON object), sends ExtConfigure to the running
   * extension (one that refuses it leaves the file as it was), then writes
   * it as the service's `config` table (atomically, see config-file.ts).
   * Returns whether a running extension took it.
   */
  async setConfig(name: string, json: string): Promise<{ applied: boolean }> {
    const host = this.host(name);
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new TypeError(`the config of ${name} is not JSON (${(err as Error).message}); send a JSON object`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new TypeError(`the config of ${name} must be a JSON object, like {"max_results": 5}`);
    checkTomlValue(value as Record<string, unknown>);
    // The running extension sees it first: a config it refuses is not written.
    const text = JSON.stringify(value);
    const applied = host.connection !== null;
    if (applied) await host.configure(text);
    writeServiceConfig(this.configFile, name, value as Record<string, unknown>);
    host.cfg = { ...host.cfg, config: text, argvConfig: text, hasConfig: true };
    return { applied };
  }

  async restart(name: string): Promise<void> {
    await this.host(name).restart();
  }

  /**
   * A reload: services whose settings are unchanged keep running (same
   * process, same tools); a changed one is stopped and started with its new
   * settings; a new one starts; a removed one stops and its tools are
   * forgotten. Returns one line per change.
   */
  async reconcile(configs: readonly ServiceConfig[]): Promise<string[]> {
    const changes: string[] = [];
    const next = new Map(configs.map((c) => [c.name, c]));
    for (const [name, host] of this.hosts) {
      if (next.has(name)) continue;
      await host.stop();
      this.hosts.delete(name);
      this.deps.runtime.registry.removeSource({ kind: "extension", name });
      changes.push(`service ${name} removed`);
    }
    for (const cfg of configs) {
      const host = this.hosts.get(cfg.name);
      if (host && JSON.stringify(host.cfg) === JSON.stringify(cfg)) continue;
      if (host) await host.stop();
      const fresh = new ServiceHost(cfg, this.deps);
      this.hosts.set(cfg.name, fresh);
      if (this.hosts.size > 0) mkdirSync(join(this.deps.paths.home, "services"), { recursive: true, mode: 0o700 });
      if (cfg.enabled) fresh.start();
      changes.push(host ? `service ${cfg.name} changed: restarted` : `service ${cfg.name} added`);
    }
    return changes;
  }

  private running(host: ServiceHost) {
    const client = host.connection;
    if (!client)
      throw new ServiceUnavailable(host.cfg.name, host.lastError ? `${host.state}: ${host.lastError}` : host.state);
    return client;
  }
}
