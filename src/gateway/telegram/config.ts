/**
 * The gateway's settings: the `[services.telegram.config]` table the daemon
 * passes as JSON (`--config '<json>'`, ${VAR} left as written so secrets stay
 * out of the process list, the variables in our environment), or a file given
 * by hand (TOML or JSON); ${VAR} is expanded here in both. Unknown keys and wrong
 * types are refused with the key and how to fix it: a gateway that guesses
 * would serve the wrong people.
 */
import { existsSync, readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";

export interface TelegramConfig {
  token: string;
  /** Telegram user ids served; empty = nobody. */
  allowedUsers: Set<number>;
  agent: string;
  apiRoot: string;
  /** Bus event source (exact or glob with *) -> chat id. */
  notify: Map<string, number>;
  /** Attachments above this are refused (Telegram's getFile serves up to 20 MB). */
  maxFileBytes: number;
  /** Least time between two edits of a reply. */
  editIntervalMs: number;
  /** Seconds a getUpdates long poll may wait. */
  pollTimeoutSeconds: number;
}

const KEYS = [
  "token",
  "allowed_users",
  "agent",
  "api_root",
  "notify",
  "max_file_mb",
  "edit_interval_ms",
  "poll_timeout_s",
] as const;

export class GatewayConfigError extends Error {}

function fail(key: string, what: string, fix: string): never {
  throw new GatewayConfigError(`telegram config: ${key}: ${what}; ${fix}`);
}

/** `--config` is a JSON object (from the daemon) or a path to a TOML/JSON file (by hand); `${VAR}` expanded from the environment in both. */
export function loadTelegramConfig(arg: string, env: Record<string, string | undefined> = process.env): TelegramConfig {
  const text = arg.trim();
  if (text.startsWith("{")) {
    try {
      // From the daemon, ${VAR} arrives unexpanded (secrets stay out of the process list) with VAR in our environment.
      return parseTelegramConfig(expand(JSON.parse(text) as unknown, env));
    } catch (err) {
      if (err instanceof GatewayConfigError) throw err;
      fail("--config", `not JSON (${(err as Error).message})`, "pass a JSON object or the path of a TOML file");
    }
  }
  if (!existsSync(text)) fail("--config", `no file ${text}`, "pass a JSON object or the path of a TOML file");
  const body = readFileSync(text, "utf8");
  const raw = text.endsWith(".json") ? (JSON.parse(body) as unknown) : (parseToml(body) as unknown);
  return parseTelegramConfig(expand(raw, env));
}

function expand(v: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof v === "string")
    return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const value = env[name];
      if (value === undefined) fail(name, `\${${name}} is not set in the environment`, `export ${name}=...`);
      return value;
    });
  if (Array.isArray(v)) return v.map((x) => expand(x, env));
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, expand(x, env)]));
  return v;
}

export function parseTelegramConfig(raw: unknown): TelegramConfig {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) fail("config", "expected a table", "write token = ...");
  const t = raw as Record<string, unknown>;
  for (const k of Object.keys(t))
    if (!(KEYS as readonly string[]).includes(k)) fail(k, "unknown key", `use one of ${KEYS.join(", ")}`);
  if (typeof t.token !== "string" || !/^\d+:[\w-]+$/.test(t.token))
    fail("token", "missing or not a bot token", 'write token = "${TELEGRAM_BOT_TOKEN}" (from @BotFather)');
  const allowed = t.allowed_users ?? [];
  if (!Array.isArray(allowed) || !allowed.every((u) => Number.isSafeInteger(u)))
    fail("allowed_users", "expected a list of numeric Telegram user ids", "write allowed_users = [123456789]");
  const notify = new Map<string, number>();
  if (t.notify !== undefined) {
    if (!t.notify || typeof t.notify !== "object" || Array.isArray(t.notify))
      fail("notify", "expected a table", 'write notify = { "cron:morning-brief:done" = 123456789 }');
    for (const [source, chat] of Object.entries(t.notify as Record<string, unknown>)) {
      if (!Number.isSafeInteger(chat)) fail(`notify.${source}`, "expected a chat id", "write a number");
      notify.set(source, chat as number);
    }
  }
  const num = (key: string, dflt: number, min: number, max: number): number => {
    const v = t[key] ?? dflt;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max)
      fail(key, `expected a number from ${min} to ${max}`, `write ${key} = ${dflt}`);
    return v;
  };
  const str = (key: string, dflt: string): string => {
    const v = t[key] ?? dflt;
    if (typeof v !== "string" || v === "") fail(key, "expected a non-empty string", `write ${key} = "${dflt}"`);
    return v;
  };
  return {
    token: t.token,
    allowedUsers: new Set(allowed as number[]),
    agent: str("agent", "crab"),
    apiRoot: str("api_root", "https://api.telegram.org").replace(/\/+$/, ""),
    notify,
    maxFileBytes: num("max_file_mb", 20, 0.001, 2000) * 1024 * 1024,
    editIntervalMs: num("edit_interval_ms", 1000, 100, 60_000),
    pollTimeoutSeconds: num("poll_timeout_s", 25, 0, 50),
  };
}
