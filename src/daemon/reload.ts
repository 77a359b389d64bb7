/**
 * Hot reload: read crabtalk.toml again, validate it completely, and apply
 * only the difference, with nothing stopped that did not change. Sessions,
 * connections, subscriptions and turns in flight go on (a turn keeps the
 * settings it started with; see SessionRuntime.reconfigure).
 *
 *   providers, agents, permissions, budget, limits  -> runtime.reconfigure (next turn)
 *   services, MCP servers, cron, subscriptions      -> their ReloadParticipant (only what changed)
 *   daemon.tcp, http, client_stall_timeout_ms, log size -> reported as "needs a restart"
 *
 * On any error nothing changes: the answer and the log give file, line, key
 * and fix. Reloads run one at a time (SIGHUP, `crabtalk reload`, a file
 * save and SetConfigMsg may race).
 */
import { renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Config } from "../config/load.ts";
import { logger } from "../util/log.ts";

const log = logger("reload");

/** A part of the daemon that a config change may concern (extensions, MCP servers, cron...). */
export interface ReloadParticipant {
  name: string;
  /** Applies `next`; returns one line per change it made (empty: nothing changed for it). */
  apply(next: Config, previous: Config): Promise<string[]>;
}

export interface ReloadReport {
  changes: string[];
  needsRestart: string[];
}

export interface ReloaderDeps {
  /** Parses and validates a config text completely; throws ConfigError. */
  parse(text: string): Config;
  readText(): string;
  current(): Config;
  /** Makes `next` the daemon's config and reconfigures the runtime with it. */
  adopt(next: Config): void;
  participants(): ReloadParticipant[];
  /** Tells subscribers what changed (a `reloaded` event). */
  announce(report: ReloadReport, trigger: string): void;
}

export class Reloader {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ReloaderDeps) {}

  /** Reloads from the file. Rejects with the ConfigError when the file is not valid; nothing changes then. */
  reload(trigger: string): Promise<ReloadReport> {
    return this.serialize(() => this.apply(this.deps.parse(this.deps.readText()), trigger), trigger);
  }

  /**
   * Validates `text`, writes it atomically (the previous file kept as
   * crabtalk.toml.bak), then applies it as a reload.
   */
  replace(text: string, trigger: string): Promise<ReloadReport> {
    return this.serialize(async () => {
      const next = this.deps.parse(text);
      writeAtomically(next.file, text, this.deps.readText());
      return this.apply(next, trigger);
    }, trigger);
  }

  /** One reload at a time; a refused one is logged with what the requester is told. */
  private serialize<T>(work: () => Promise<T>, trigger: string): Promise<T> {
    const logged = () =>
      Promise.resolve()
        .then(work)
        .catch((err: unknown) => {
          log.error(`reload (${trigger}) refused, the running config is unchanged: ${(err as Error).message}`);
          throw err;
        });
    const run = this.chain.then(logged, logged);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async apply(next: Config, trigger: string): Promise<ReloadReport> {
    const previous = this.deps.current();
    const report: ReloadReport = { changes: diffConfig(previous, next), needsRestart: needsRestart(previous, next) };
    this.deps.adopt(next);
    for (const p of this.deps.participants()) {
      try {
        report.changes.push(...(await p.apply(next, previous)));
      } catch (err) {
        report.changes.push(`${p.name}: could not apply the change (${(err as Error).message}); see the daemon log`);
        log.error(`reload: ${p.name} failed to apply the new config:`, err);
      }
    }
    const summary = report.changes.length > 0 ? report.changes.join("; ") : "nothing changed";
    const restart = report.needsRestart.length > 0 ? `; needs a restart: ${report.needsRestart.join(", ")}` : "";
    log.info(`reloaded (${trigger}): ${summary}${restart}`);
    this.deps.announce(report, trigger);
    return report;
  }
}

/** Writes the config through a temp file and a rename, keeping the previous text as .bak. */
function writeAtomically(file: string, text: string, previous: string): void {
  const dir = dirname(file);
  writeFileSync(`${file}.bak`, previous, { mode: 0o600 });
  const tmp = join(dir, `.crabtalk.toml.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What changed among the parts the runtime applies itself, in words. */
export function diffConfig(a: Config, b: Config): string[] {
  const out: string[] = [];
  const providersA = new Map(a.providers.map((p) => [p.name, p]));
  const providersB = new Map(b.providers.map((p) => [p.name, p]));
  for (const [name, p] of providersB) {
    const old = providersA.get(name);
    if (!old) out.push(`provider ${name} added`);
    else if (!same(old, p)) out.push(`provider ${name} changed`);
  }
  for (const name of providersA.keys()) if (!providersB.has(name)) out.push(`provider ${name} removed`);
  const agentsA = a.agents.agents;
  const agentsB = b.agents.agents;
  for (const [name, agent] of agentsB) {
    const old = agentsA.get(name);
    if (!old) out.push(`agent ${name} added`);
    else if (!same(old, agent)) out.push(`agent ${name} changed`);
  }
  for (const name of agentsA.keys()) if (!agentsB.has(name)) out.push(`agent ${name} removed`);
  if (!same(a.agents.permissions, b.agents.permissions)) out.push("permissions changed");
  if (!same(a.agents.budget, b.agents.budget)) out.push("budget changed");
  for (const key of ["approvalTimeoutMs", "compactThreshold", "shutdownGraceMs", "watchConfig"] as const) {
    if (a.daemon[key] !== b.daemon[key]) out.push(`daemon.${snake(key)} changed`);
  }
  return out;
}

/** Settings fixed when the daemon started: a change is reported, not applied. */
export function needsRestart(a: Config, b: Config): string[] {
  const out: string[] = [];
  if (!same(a.daemon.tcp, b.daemon.tcp)) out.push("daemon.tcp");
  if (!same(a.daemon.http, b.daemon.http)) out.push("daemon.http");
  if (a.daemon.clientStallTimeoutMs !== b.daemon.clientStallTimeoutMs) out.push("daemon.client_stall_timeout_ms");
  if (a.daemon.logMaxBytes !== b.daemon.logMaxBytes) out.push("daemon.log_max_bytes");
  return out;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
