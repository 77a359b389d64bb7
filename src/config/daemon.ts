/**
 * The `[daemon]` section: listeners and runtime limits of the daemon process.
 *
 *   [daemon]
 *   tcp = "127.0.0.1:6688"      # loopback HOST:PORT, or false to listen on the Unix socket only
 *   shutdown_grace_ms = 10000   # how long SIGTERM waits for turns in flight
 *   client_stall_timeout_ms = 30000
 *   log_max_bytes = 10485760    # daemon.log rotates past this size
 *   approval_timeout_ms = 300000 # an unanswered approval request is a deny after this
 *   compact_threshold = 0.8     # compact a session when a prompt passes this share of the context window
 *   watch_config = false        # reload when crabtalk.toml is saved
 */
import { isIPv4, isIPv6 } from "node:net";
import {
  ConfigError,
  expectBool,
  expectNumber,
  expectString,
  isTable,
  rejectUnknownKeys,
  type ConfigContext,
} from "./errors.ts";

export interface DaemonSettings {
  /** Null when TCP is switched off. */
  tcp: { host: string; port: number } | null;
  shutdownGraceMs: number;
  clientStallTimeoutMs: number;
  logMaxBytes: number;
  approvalTimeoutMs: number;
  compactThreshold: number;
  /** Reload when crabtalk.toml is saved (an in-place write or an editor's rename-over). */
  watchConfig: boolean;
}

export const DEFAULT_TCP = { host: "127.0.0.1", port: 6688 };

export const defaultDaemonSettings = (): DaemonSettings => ({
  tcp: { ...DEFAULT_TCP },
  shutdownGraceMs: 10_000,
  clientStallTimeoutMs: 30_000,
  logMaxBytes: 10 * 1024 * 1024,
  approvalTimeoutMs: 5 * 60_000,
  compactThreshold: 0.8,
  watchConfig: false,
});

const KEYS = [
  "tcp",
  "shutdown_grace_ms",
  "client_stall_timeout_ms",
  "log_max_bytes",
  "approval_timeout_ms",
  "compact_threshold",
  /** Parsed by config/skills.ts (it needs the home to resolve paths). */
  "skill_dirs",
  "watch_config",
] as const;

export function parseHostPort(value: string): { host: string; port: number } | null {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value.trim());
  if (!m) return null;
  const port = Number(m[2]);
  if (port > 65535) return null;
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/** Hosts that only this machine can reach: 127.0.0.0/8, ::1 (also written out or IPv4-mapped) and "localhost". */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost") return true;
  if (isIPv4(h)) return h.startsWith("127.");
  if (!isIPv6(h)) return false;
  return /^::ffff:127\.\d+\.\d+\.\d+$/.test(h) || /^(0{1,4}:){7}0{0,3}1$/.test(h) || h === "::1";
}

/**
 * The gate for a TCP listener anyone else could reach. Loopback peers are
 * identified by their uid (transport/peer-uid.ts); a peer from the network has
 * no uid to check, so without authentication a non-loopback bind would hand
 * the agent's bash tool to every host that can route to it. This is the hook
 * the remote-access work replaces with a token check; until tokens exist it refuses.
 */
export function checkTcpExposure(ctx: ConfigContext, host: string): void {
  if (isLoopbackHost(host)) return;
  throw new ConfigError(
    ctx.file,
    "daemon.tcp",
    `"${host}" is not a loopback address, and listening there would let anyone who can reach it run tools as you: this version has no authentication for remote clients`,
    'bind loopback (tcp = "127.0.0.1:6688" or "[::1]:6688") or set tcp = false, and reach the daemon through its Unix socket (ssh, docker exec) until token authentication arrives',
  );
}

export function parseDaemonSection(raw: unknown, ctx: ConfigContext): DaemonSettings {
  const settings = defaultDaemonSettings();
  if (raw === undefined) return settings;
  if (!isTable(raw)) throw new ConfigError(ctx.file, "daemon", "expected a table", "write it as a [daemon] section");
  rejectUnknownKeys(ctx, "daemon", raw, KEYS);
  if (raw.tcp === false) settings.tcp = null;
  else if (raw.tcp !== undefined) {
    const text = expectString(ctx, "daemon.tcp", raw.tcp, 'write tcp = "127.0.0.1:6688" or tcp = false');
    const hp = parseHostPort(text);
    if (!hp)
      throw new ConfigError(ctx.file, "daemon.tcp", `"${text}" is not HOST:PORT`, 'write tcp = "127.0.0.1:6688"');
    checkTcpExposure(ctx, hp.host);
    settings.tcp = hp;
  }
  const positive = (key: (typeof KEYS)[number], fallback: number): number => {
    if (raw[key] === undefined) return fallback;
    const n = expectNumber(ctx, `daemon.${key}`, raw[key], `set ${key} to a positive whole number`);
    if (n <= 0 || !Number.isInteger(n))
      throw new ConfigError(
        ctx.file,
        `daemon.${key}`,
        `must be a positive whole number, got ${n}`,
        `set ${key} to a value above 0`,
      );
    return n;
  };
  settings.shutdownGraceMs = positive("shutdown_grace_ms", settings.shutdownGraceMs);
  settings.clientStallTimeoutMs = positive("client_stall_timeout_ms", settings.clientStallTimeoutMs);
  settings.logMaxBytes = positive("log_max_bytes", settings.logMaxBytes);
  settings.approvalTimeoutMs = positive("approval_timeout_ms", settings.approvalTimeoutMs);
  if (raw.watch_config !== undefined)
    settings.watchConfig = expectBool(
      ctx,
      "daemon.watch_config",
      raw.watch_config,
      "write watch_config = true or false",
    );
  if (raw.compact_threshold !== undefined) {
    const t = expectNumber(
      ctx,
      "daemon.compact_threshold",
      raw.compact_threshold,
      "set compact_threshold to a fraction such as 0.8",
    );
    if (!(t > 0 && t <= 1))
      throw new ConfigError(
        ctx.file,
        "daemon.compact_threshold",
        `must be above 0 and at most 1, got ${t}`,
        "set compact_threshold to a fraction such as 0.8",
      );
    settings.compactThreshold = t;
  }
  return settings;
}
