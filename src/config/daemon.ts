/**
 * The `[daemon]` section: listeners and runtime limits of the daemon process.
 *
 *   [daemon]
 *   tcp = "127.0.0.1:6688"      # HOST:PORT, or false to listen on the Unix socket only; a non-loopback
 *                               # address needs tokens (crabtalk token create); $CRABTALK_TCP overrides it
 *   tls_cert = "~/.crabtalk/tls/cert.pem"  # with tls_key: TCP speaks TLS (crabtalk tls init makes both)
 *   tls_key = "~/.crabtalk/tls/key.pem"
 *   loopback_trusted = false    # with tokens: loopback clients of this user may still skip the token
 *   tokens_file = "/run/secrets/crabtalk_tokens"  # default $CRABTALK_HOME/tokens.toml
 *   http = "127.0.0.1:6689"     # the web dashboard (off by default); HOST:PORT, port 0 = any free port
 *                               # (written to $CRABTALK_HOME/crabtalk.http); a non-loopback address needs tokens
 * Containers may set $CRABTALK_TCP, $CRABTALK_TOKENS_FILE, $CRABTALK_TLS_CERT and
 * $CRABTALK_TLS_KEY instead (they win over the file).
 *   shutdown_grace_ms = 10000   # how long SIGTERM waits for turns in flight
 *   client_stall_timeout_ms = 30000
 *   log_max_bytes = 10485760    # daemon.log rotates past this size
 *   approval_timeout_ms = 300000 # an unanswered approval request is a deny after this
 *   compact_threshold = 0.8     # compact a session when a prompt passes this share of the context window
 *   watch_config = false        # reload when crabtalk.toml is saved
 */
import { isIPv4, isIPv6 } from "../util/ip.ts";
import { isAbsolute, join } from "node:path";
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
  /** Both set: TCP speaks TLS with this certificate and key (absolute paths). */
  tls: { cert: string; key: string } | null;
  /** With tokens configured, loopback clients of the daemon's user may skip the token. */
  loopbackTrusted: boolean;
  /** Absolute path of the token store; null = $CRABTALK_HOME/tokens.toml. */
  tokensFile: string | null;
  /** The web dashboard's listener (daemon/http/); null (the default) when off. */
  http: { host: string; port: number } | null;
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
  tls: null,
  loopbackTrusted: false,
  tokensFile: null,
  http: null,
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
  "tls_cert",
  "tls_key",
  "loopback_trusted",
  "tokens_file",
  "http",
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
 * The rule for a TCP listener others could reach. Loopback peers are
 * identified by their uid (transport/peer-uid.ts); a peer from the network
 * has no uid to check, so a non-loopback bind is allowed only with tokens
 * configured (every TCP client then authenticates). Returns the refusal
 * (problem and fix) for start-up, or null.
 */
export function checkTcpExposure(
  tcp: { host: string; port: number } | null,
  tokenCount: number,
  tokensFile: string,
): { problem: string; fix: string } | null {
  if (!tcp || isLoopbackHost(tcp.host) || tokenCount > 0) return null;
  return {
    problem: `[daemon] tcp = "${tcp.host}:${tcp.port}" is not a loopback address, and ${tokensFile} holds no tokens: anyone who can reach it could run tools as you`,
    fix: `create a token first (crabtalk token create laptop --scope chat), and add TLS (crabtalk tls init); or bind loopback (tcp = "127.0.0.1:6688") or set tcp = false`,
  };
}

/** "~/x" and relative paths (under $CRABTALK_HOME is not known here, so under the user's home) to absolute. */
function absolutePath(ctx: ConfigContext, value: string): string {
  // node:os only when $HOME is unset: it is not loaded before the socket accepts otherwise (issue 20).
  const home = ctx.env.HOME ?? process.getBuiltinModule("node:os").homedir();
  if (value === "~") return home;
  if (value.startsWith("~/")) return join(home, value.slice(2));
  return isAbsolute(value) ? value : join(home, value);
}

/**
 * What a container passes as environment instead of a config file: the token
 * store and the TLS pair as mounted secrets ($CRABTALK_TOKENS_FILE,
 * $CRABTALK_TLS_CERT with $CRABTALK_TLS_KEY), over the config's keys.
 */
function applyEnvPaths(settings: DaemonSettings, ctx: ConfigContext): void {
  const { CRABTALK_TOKENS_FILE: tokens, CRABTALK_TLS_CERT: cert, CRABTALK_TLS_KEY: key } = ctx.env;
  if (tokens) settings.tokensFile = absolutePath(ctx, tokens);
  if (cert && key) settings.tls = { cert: absolutePath(ctx, cert), key: absolutePath(ctx, key) };
  else if (cert || key)
    throw new ConfigError(
      ctx.file,
      cert ? "CRABTALK_TLS_CERT" : "CRABTALK_TLS_KEY",
      "CRABTALK_TLS_CERT and CRABTALK_TLS_KEY go together",
      "set both to the mounted certificate and key, or neither",
    );
}

/** [daemon] tcp, or $CRABTALK_TCP over it (the container image sets it). */
function applyTcp(settings: DaemonSettings, raw: Record<string, unknown>, ctx: ConfigContext): void {
  const fromEnv = ctx.env.CRABTALK_TCP;
  const value = fromEnv !== undefined && fromEnv !== "" ? fromEnv : raw.tcp;
  const key = fromEnv ? "CRABTALK_TCP" : "daemon.tcp";
  if (value === false || value === "false") settings.tcp = null;
  else if (value !== undefined) {
    const text = expectString(ctx, key, value, 'write tcp = "127.0.0.1:6688" or tcp = false');
    const hp = parseHostPort(text);
    if (!hp) throw new ConfigError(ctx.file, key, `"${text}" is not HOST:PORT`, 'write tcp = "127.0.0.1:6688"');
    settings.tcp = hp;
  }
}

/** [daemon] http: "HOST:PORT", or false / absent for off. */
function parseHttp(value: unknown, ctx: ConfigContext): { host: string; port: number } | null {
  if (value === undefined || value === false) return null;
  const text = expectString(ctx, "daemon.http", value, 'write http = "127.0.0.1:6689" or http = false');
  const hp = parseHostPort(text);
  if (!hp)
    throw new ConfigError(ctx.file, "daemon.http", `"${text}" is not HOST:PORT`, 'write http = "127.0.0.1:6689"');
  return hp;
}

/**
 * The same rule as checkTcpExposure for the dashboard's listener: a page
 * others can reach is allowed only when tokens exist (they log in with one).
 */
export function checkHttpExposure(
  http: { host: string; port: number } | null,
  tokenCount: number,
  tokensFile: string,
): { problem: string; fix: string } | null {
  if (!http || isLoopbackHost(http.host) || tokenCount > 0) return null;
  return {
    problem: `[daemon] http = "${http.host}:${http.port}" is not a loopback address, and ${tokensFile} holds no tokens: anyone who can reach it could open the dashboard`,
    fix: `create a token first (crabtalk token create laptop --scope chat) and add TLS (crabtalk tls init); or bind loopback (http = "127.0.0.1:6689")`,
  };
}

export function parseDaemonSection(raw: unknown, ctx: ConfigContext): DaemonSettings {
  const settings = defaultDaemonSettings();
  if (raw === undefined) {
    applyTcp(settings, {}, ctx);
    applyEnvPaths(settings, ctx);
    return settings;
  }
  if (!isTable(raw)) throw new ConfigError(ctx.file, "daemon", "expected a table", "write it as a [daemon] section");
  rejectUnknownKeys(ctx, "daemon", raw, KEYS);
  applyTcp(settings, raw, ctx);
  const path = (key: "tls_cert" | "tls_key" | "tokens_file"): string | null =>
    raw[key] === undefined
      ? null
      : absolutePath(ctx, expectString(ctx, `daemon.${key}`, raw[key], `write ${key} = "/absolute/path"`));
  const cert = path("tls_cert");
  const key = path("tls_key");
  if ((cert === null) !== (key === null))
    throw new ConfigError(
      ctx.file,
      cert === null ? "daemon.tls_key" : "daemon.tls_cert",
      "tls_cert and tls_key go together",
      "set both (crabtalk tls init prints them) or neither",
    );
  settings.tls = cert && key ? { cert, key } : null;
  settings.tokensFile = path("tokens_file");
  settings.http = parseHttp(raw.http, ctx);
  applyEnvPaths(settings, ctx);
  if (raw.loopback_trusted !== undefined)
    settings.loopbackTrusted = expectBool(
      ctx,
      "daemon.loopback_trusted",
      raw.loopback_trusted,
      "write loopback_trusted = true or false",
    );
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
