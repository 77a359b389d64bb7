/**
 * The `[mcp.<name>]` sections (`[mcps.<name>]` is accepted, the reference's
 * spelling): Model Context Protocol servers the daemon connects, over stdio
 * (command) or Streamable HTTP (url).
 *
 *   [mcp]
 *   tool_threshold = 40              # an agent granted more MCP tools gets one `mcp` meta-tool instead
 *
 *   [mcp.fs]
 *   command = "node"
 *   args = ["server.js", "~/notes"]
 *   env = { TOKEN = "${NOTES_TOKEN}" }  # ${VAR} from the daemon's environment; never logged
 *   cwd = "~/notes"
 *
 *   [mcp.docs]
 *   url = "https://example.com/mcp"
 *   headers = { Authorization = "Bearer ${DOCS_TOKEN}" }
 *
 *   # per server, optional: enabled = true, connect_timeout_ms = 30000, call_timeout_ms = 120000,
 *   # idle_timeout_s = 1800 (0 = keep running), restart = "on_failure" | "never", eager = false
 *
 * An agent's `mcp = ["fs"]` (agents.ts) is checked here against the servers.
 */
import { resolve } from "node:path";
import type { AgentConfig } from "./agents.ts";
import {
  ConfigError,
  expectBool,
  expectNumber,
  expectString,
  expectStringArray,
  isTable,
  rejectUnknownKeys,
  type ConfigContext,
  type Table,
} from "./errors.ts";
import { expandTilde } from "./paths.ts";

export type McpTransportConfig =
  | { kind: "stdio"; command: string; args: string[]; env: Record<string, string>; cwd?: string }
  | { kind: "http"; url: string; headers: Record<string, string> };

export interface McpServerConfig {
  name: string;
  transport: McpTransportConfig;
  enabled: boolean;
  connectTimeoutMs: number;
  callTimeoutMs: number;
  /** 0 = never stop an idle server. */
  idleTimeoutS: number;
  restart: "on_failure" | "never";
  eager: boolean;
}

export interface McpConfig {
  servers: McpServerConfig[];
  /** An agent granted more MCP tools than this gets the `mcp` meta-tool instead of each tool. */
  toolThreshold: number;
}

export const DEFAULT_TOOL_THRESHOLD = 40;
/** The meta-tool's name; no server may take it (its tools would be `mcp__*`, which reads as the meta-tool's). */
export const META_TOOL = "mcp";

const SERVER_KEYS = [
  "command",
  "args",
  "env",
  "cwd",
  "url",
  "headers",
  "enabled",
  "connect_timeout_ms",
  "call_timeout_ms",
  "idle_timeout_s",
  "restart",
  "eager",
] as const;
/** Server names become tool-name prefixes (`<server>__<tool>`) and log file names. */
const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** Parses `[mcp]` and `[mcps]` out of the whole document. */
export function parseMcp(raw: Table, ctx: ConfigContext, home: string): McpConfig {
  const result: McpConfig = { servers: [], toolThreshold: DEFAULT_TOOL_THRESHOLD };
  for (const section of ["mcp", "mcps"] as const) {
    const table = raw[section];
    if (table === undefined) continue;
    if (!isTable(table))
      throw new ConfigError(
        ctx.file,
        section,
        "expected a table of servers",
        `write each server as [${section}.<name>]`,
      );
    for (const [name, value] of Object.entries(table)) {
      if (name === "tool_threshold") {
        const n = expectNumber(ctx, `${section}.tool_threshold`, value, "write tool_threshold = 40");
        if (!Number.isInteger(n) || n < 0)
          throw new ConfigError(
            ctx.file,
            `${section}.tool_threshold`,
            `must be a whole number >= 0, got ${n}`,
            "write tool_threshold = 40",
          );
        result.toolThreshold = n;
        continue;
      }
      if (result.servers.some((s) => s.name === name))
        throw new ConfigError(
          ctx.file,
          `${section}.${name}`,
          `server "${name}" is configured twice`,
          "keep one [mcp.<name>] section per server",
        );
      result.servers.push(parseServer(name, value, `${section}.${name}`, ctx, home));
    }
  }
  return result;
}

function parseServer(name: string, section: unknown, at: string, ctx: ConfigContext, home: string): McpServerConfig {
  if (!SERVER_NAME.test(name) || name === META_TOOL || name.includes("__"))
    throw new ConfigError(
      ctx.file,
      at,
      `"${name}" is not a valid MCP server name`,
      `use letters, digits, - and _ (no "__"), starting with a letter or digit, and not "${META_TOOL}"`,
    );
  if (!isTable(section)) throw new ConfigError(ctx.file, at, "expected a table", `write it as an [${at}] section`);
  rejectUnknownKeys(ctx, at, section, SERVER_KEYS);
  const hasCommand = section.command !== undefined;
  const hasUrl = section.url !== undefined;
  if (hasCommand === hasUrl)
    throw new ConfigError(
      ctx.file,
      at,
      hasCommand ? "has both command and url" : "has neither command nor url",
      'give command = "..." for a stdio server or url = "https://..." for a Streamable HTTP server',
    );
  let transport: McpTransportConfig;
  if (hasCommand) {
    const command = expectString(ctx, `${at}.command`, section.command, 'write command = "node"');
    if (command.trim() === "") throw new ConfigError(ctx.file, `${at}.command`, "is empty", "name the program to run");
    const args =
      section.args === undefined
        ? []
        : expectStringArray(ctx, `${at}.args`, section.args, 'write args = ["server.js"]');
    const env = section.env === undefined ? {} : stringTable(section.env, `${at}.env`, ctx);
    transport = {
      kind: "stdio",
      command: expandTilde(command, ctx.env),
      args: args.map((a) => expandTilde(a, ctx.env)),
      env,
    };
    if (section.cwd !== undefined) {
      const cwd = expectString(ctx, `${at}.cwd`, section.cwd, 'write cwd = "~/notes"');
      transport.cwd = resolve(home, expandTilde(cwd, ctx.env));
    }
  } else {
    const url = expectString(ctx, `${at}.url`, section.url, 'write url = "https://example.com/mcp"');
    if (!/^https?:\/\/[^/]/.test(url))
      throw new ConfigError(
        ctx.file,
        `${at}.url`,
        `"${url}" is not an http(s) URL`,
        'write url = "https://example.com/mcp"',
      );
    transport = {
      kind: "http",
      url,
      headers: section.headers === undefined ? {} : stringTable(section.headers, `${at}.headers`, ctx),
    };
  }
  const restart =
    section.restart === undefined
      ? "on_failure"
      : expectString(ctx, `${at}.restart`, section.restart, 'write restart = "on_failure" or "never"');
  if (restart !== "on_failure" && restart !== "never")
    throw new ConfigError(
      ctx.file,
      `${at}.restart`,
      `unknown value "${restart}"`,
      'write restart = "on_failure" or "never"',
    );
  return {
    name,
    transport,
    enabled:
      section.enabled === undefined
        ? true
        : expectBool(ctx, `${at}.enabled`, section.enabled, "write enabled = true or false"),
    connectTimeoutMs: wholeNumber(section.connect_timeout_ms, `${at}.connect_timeout_ms`, ctx, 30_000, 1),
    callTimeoutMs: wholeNumber(section.call_timeout_ms, `${at}.call_timeout_ms`, ctx, 120_000, 1),
    idleTimeoutS: wholeNumber(section.idle_timeout_s, `${at}.idle_timeout_s`, ctx, 1800, 0),
    restart,
    eager:
      section.eager === undefined
        ? false
        : expectBool(ctx, `${at}.eager`, section.eager, "write eager = true or false"),
  };
}

function wholeNumber(v: unknown, key: string, ctx: ConfigContext, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  const n = expectNumber(ctx, key, v, `write ${key.split(".").pop()} = ${fallback}`);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError(
      ctx.file,
      key,
      `must be a whole number >= ${min}, got ${n}`,
      `write ${key.split(".").pop()} = ${fallback}`,
    );
  return n;
}

/** A table of strings with ${VAR} expanded from the daemon's environment. */
function stringTable(v: unknown, key: string, ctx: ConfigContext): Record<string, string> {
  if (!isTable(v))
    throw new ConfigError(
      ctx.file,
      key,
      "expected a table of strings",
      `write ${key.split(".").pop()} = { NAME = "value" }`,
    );
  const out: Record<string, string> = {};
  for (const [k, raw] of Object.entries(v)) {
    const s = expectString(ctx, `${key}.${k}`, raw, `write ${k} = "value" or "\${VAR}"`);
    out[k] = s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const value = ctx.env[name];
      if (value === undefined)
        throw new ConfigError(
          ctx.file,
          `${key}.${k}`,
          `uses \${${name}}, which is not set in the daemon's environment`,
          `export ${name} before starting the daemon, or write the value`,
        );
      return value;
    });
  }
  return out;
}

/** Every secret an MCP section holds (env and header values), for redaction. */
export function mcpSecrets(mcp: McpConfig): string[] {
  const out: string[] = [];
  for (const s of mcp.servers) {
    const values = s.transport.kind === "stdio" ? Object.values(s.transport.env) : Object.values(s.transport.headers);
    for (const v of values) if (v.length >= 8) out.push(v);
  }
  return out;
}

/** Checks each agent's `mcp` grant names configured servers. */
export function checkAgentServers(agents: ReadonlyMap<string, AgentConfig>, mcp: McpConfig, ctx: ConfigContext): void {
  const names = mcp.servers.map((s) => s.name);
  for (const agent of agents.values()) {
    for (const server of agent.mcp ?? []) {
      if (!names.includes(server))
        throw new ConfigError(
          ctx.file,
          `agents.${agent.name}.mcp`,
          `no MCP server is called "${server}"`,
          names.length > 0
            ? `use one of: ${names.join(", ")}, or add an [mcp.${server}] section`
            : `add an [mcp.${server}] section`,
        );
    }
  }
}
