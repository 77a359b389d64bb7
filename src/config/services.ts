/**
 * The [services.<name>] sections: components the daemon spawns and
 * supervises. An "extension" speaks ext.proto (the daemon connects to the
 * socket it listens on); a "gateway" is a client of crabtalk.proto (the
 * daemon only spawns and supervises it).
 *
 * `command` is a path or a name on PATH, resolved here so a typo is a
 * ConfigError at start-up rather than a service that fails forever;
 * `crate` is accepted as the reference's spelling of the same key.
 */
import { accessSync, constants, statSync } from "node:fs";
import { basename, delimiter, isAbsolute, join, resolve } from "node:path";
import {
  ConfigError,
  type ConfigContext,
  expandEnv,
  expectBool,
  expectNumber,
  expectString,
  expectStringArray,
  isTable,
  rejectUnknownKeys,
  type Table,
} from "./errors.ts";

export type ServiceKind = "extension" | "gateway";
export type RestartPolicy = "never" | "on_failure" | "always";

export interface ServiceConfig {
  name: string;
  kind: ServiceKind;
  /** As written (for messages). */
  command: string;
  /** The absolute path `command` resolved to. */
  executable: string;
  args: string[];
  enabled: boolean;
  restart: RestartPolicy;
  /** Added to the allow-listed environment, ${VAR} expanded. */
  env: Record<string, string>;
  /** The opaque `config` table, as JSON (sent in ExtConfigure), ${VAR} expanded in its strings; "{}" when none. */
  config: string;
  /**
   * What a gateway gets on its command line (`--config <json>`): the table as
   * written, `${VAR}` NOT expanded, so a secret never shows in the process list
   * (`ps` shows every user's arguments); "{}" when none.
   */
  argvConfig: string;
  /** The variables `argvConfig` names, with their values: put in the gateway's environment (readable by its owner only). */
  configEnv: Record<string, string>;
  /** Whether the section writes a `config` table. */
  hasConfig: boolean;
  /** Per call and per hook. */
  timeoutMs: number;
  /** The model the service's inference requests use; default: the model of the agent they serve. */
  inferModel?: string;
}

const KEYS = [
  "kind",
  "command",
  "crate",
  "args",
  "enabled",
  "restart",
  "env",
  "config",
  "timeout_ms",
  "infer_model",
] as const;
const KINDS: readonly ServiceKind[] = ["extension", "gateway"];
const POLICIES: readonly RestartPolicy[] = ["never", "on_failure", "always"];
/** 30 s: long enough for a web fetch, short enough that a hung extension does not hold a turn for minutes. */
export const DEFAULT_SERVICE_TIMEOUT_MS = 30_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function parseServices(section: unknown, ctx: ConfigContext): ServiceConfig[] {
  if (section === undefined) return [];
  if (!isTable(section))
    throw new ConfigError(ctx.file, "services", "expected a table", "write each service as [services.<name>]");
  return Object.entries(section).map(([name, table]) => parseService(name, table, ctx));
}

function parseService(name: string, table: unknown, ctx: ConfigContext): ServiceConfig {
  const at = `services.${name}`;
  if (!NAME.test(name))
    throw new ConfigError(
      ctx.file,
      at,
      `"${name}" is not a valid service name`,
      "use letters, digits, - and _ (at most 64), starting with a letter or digit",
    );
  if (!isTable(table)) throw new ConfigError(ctx.file, at, "expected a table", `write it as a [${at}] section`);
  rejectUnknownKeys(ctx, at, table, KEYS);
  const kind = oneOf(ctx, `${at}.kind`, table.kind ?? "extension", KINDS);
  if (table.command !== undefined && table.crate !== undefined)
    throw new ConfigError(ctx.file, at, "both command and crate are set", "keep one of them (they mean the same)");
  const rawCommand = table.command ?? table.crate;
  const commandKey = table.command !== undefined ? `${at}.command` : `${at}.crate`;
  if (rawCommand === undefined)
    throw new ConfigError(
      ctx.file,
      at,
      "no command",
      'write command = "<program>" (a path, or a name on PATH) and args = [...]',
    );
  const command = expectString(ctx, commandKey, rawCommand, 'write command = "<program>"');
  // A disabled service may name a program that is not installed yet.
  const disabled = table.enabled === false;
  const executable = disabled ? command : resolveCommand(ctx, commandKey, command);
  const config: ServiceConfig = {
    name,
    kind,
    command,
    executable,
    args: table.args === undefined ? [] : expectStringArray(ctx, `${at}.args`, table.args, 'write args = ["serve"]'),
    enabled:
      table.enabled === undefined
        ? true
        : expectBool(ctx, `${at}.enabled`, table.enabled, "write enabled = true or enabled = false"),
    restart: oneOf(ctx, `${at}.restart`, table.restart ?? "on_failure", POLICIES),
    env: parseEnv(ctx, `${at}.env`, table.env),
    config: "{}",
    argvConfig: "{}",
    configEnv: {},
    hasConfig: table.config !== undefined,
    timeoutMs: DEFAULT_SERVICE_TIMEOUT_MS,
  };
  if (table.config !== undefined) {
    if (!isTable(table.config))
      throw new ConfigError(ctx.file, `${at}.config`, "expected a table", "write config = { key = value, ... }");
    config.config = JSON.stringify(expandStrings(ctx, `${at}.config`, table.config));
    config.argvConfig = JSON.stringify(table.config);
    for (const name of JSON.stringify(table.config).matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
      const value = ctx.env[name[1]!];
      if (value !== undefined) config.configEnv[name[1]!] = value;
    }
  }
  if (table.timeout_ms !== undefined) {
    const ms = expectNumber(ctx, `${at}.timeout_ms`, table.timeout_ms, "write timeout_ms = 30000");
    if (!Number.isInteger(ms) || ms < 1 || ms > 3_600_000)
      throw new ConfigError(ctx.file, `${at}.timeout_ms`, `${ms} is out of range`, "use an integer from 1 to 3600000");
    config.timeoutMs = ms;
  }
  if (table.infer_model !== undefined)
    config.inferModel = expectString(ctx, `${at}.infer_model`, table.infer_model, 'write infer_model = "<model>"');
  return config;
}

/** ${VAR} expanded in every string of a config table (API keys stay out of the file). */
function expandStrings(ctx: ConfigContext, key: string, v: unknown): unknown {
  if (typeof v === "string") return expandEnv(ctx, key, v);
  if (Array.isArray(v)) return v.map((x, i) => expandStrings(ctx, `${key}[${i}]`, x));
  if (isTable(v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expandStrings(ctx, `${key}.${k}`, x)]));
  return v;
}

function oneOf<T extends string>(ctx: ConfigContext, key: string, v: unknown, allowed: readonly T[]): T {
  const s = expectString(ctx, key, v, `use one of: ${allowed.join(", ")}`);
  if (!(allowed as readonly string[]).includes(s))
    throw new ConfigError(
      ctx.file,
      key,
      `"${s}" is not one of ${allowed.join(", ")}`,
      `use one of: ${allowed.join(", ")}`,
    );
  return s as T;
}

function parseEnv(ctx: ConfigContext, key: string, v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (!isTable(v)) throw new ConfigError(ctx.file, key, "expected a table", 'write env = { NAME = "value" }');
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(v as Table))
    env[name] = expandEnv(ctx, `${key}.${name}`, expectString(ctx, `${key}.${name}`, value, 'write NAME = "value"'));
  return env;
}

/** The executable `command` names: a path (relative to the working directory) or the first match on PATH. */
function resolveCommand(ctx: ConfigContext, key: string, command: string): string {
  if (command.includes("/")) {
    const path = isAbsolute(command) ? command : resolve(command);
    if (isExecutable(path)) return path;
    throw new ConfigError(ctx.file, key, `${path} is not an executable file`, "check the path, or chmod +x the file");
  }
  const dirs = (ctx.env.PATH ?? process.env.PATH ?? "").split(delimiter).filter((d) => d.length > 0);
  for (const dir of dirs) {
    const path = join(dir, command);
    if (isExecutable(path)) return path;
  }
  // The daemon's own subcommands (`crabtalk search`) work without crabtalk on PATH.
  if (command === "crabtalk" && basename(process.execPath) === "crabtalk") return process.execPath;
  throw new ConfigError(
    ctx.file,
    key,
    `"${command}" was not found on PATH`,
    "install it, write its absolute path, or add its directory to the daemon's PATH",
  );
}

/**
 * Values of services' config worth hiding from logs: every `env` value and
 * every string in a `config` table under a key that names a secret
 * (api_key, token, password...).
 */
export function serviceSecrets(services: readonly ServiceConfig[]): string[] {
  const out: string[] = [];
  const walk = (v: unknown, secretKey: boolean): void => {
    if (typeof v === "string" && secretKey) out.push(v);
    else if (Array.isArray(v)) for (const x of v) walk(x, secretKey);
    else if (isTable(v)) for (const [k, x] of Object.entries(v)) walk(x, secretKey || SECRET_KEY.test(k));
  };
  for (const s of services) {
    out.push(...Object.values(s.env));
    walk(JSON.parse(s.config), false);
  }
  return out;
}

const SECRET_KEY = /key|token|secret|password|passwd|credential|auth/i;

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
