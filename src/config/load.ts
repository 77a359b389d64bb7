/**
 * Reads and validates $CRABTALK_HOME/crabtalk.toml. The file holds only what
 * the user writes; defaults live in code. Any problem is a ConfigError naming
 * the file, the line (whenever the key, or its table, is written in the
 * file), the key and the fix.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, TomlError } from "smol-toml";
import { ConfigError, isTable, rejectUnknownKeys, type ConfigContext, type Table } from "./errors.ts";
import { parseDaemonSection, type DaemonSettings } from "./daemon.ts";
import { parseProviders, type ProviderConfig } from "./providers.ts";
import { parseAgents, type AgentsConfig } from "./agents.ts";
import { locateKey } from "./locate.ts";
import { parseServices, type ServiceConfig } from "./services.ts";
import { parseSkillDirs } from "./skills.ts";
import { parseMemorySection, type MemorySettings } from "./memory.ts";
import { checkAgentServers, parseMcp, type McpConfig } from "./mcp.ts";
import { checkMembers, parseDelegation, type DelegationSettings } from "./delegation.ts";

export interface Config {
  file: string;
  daemon: DaemonSettings;
  providers: ProviderConfig[];
  agents: AgentsConfig;
  services: ServiceConfig[];
  /** `[daemon] skill_dirs`, resolved. */
  skillDirs: string[];
  memory: MemorySettings;
  mcp: McpConfig;
  delegation: DelegationSettings;
  /** The parsed document, for sections other modules validate. */
  raw: Table;
}

const SECTIONS = [
  "daemon",
  "provider",
  "agents",
  "permissions",
  "budget",
  "services",
  "memory",
  "mcp",
  "mcps",
  "delegation",
] as const;

export function parseToml(text: string, file: string): Table {
  try {
    const doc = parse(text);
    if (!isTable(doc)) throw new ConfigError(file, "", "the document is not a table", "check the file is TOML");
    return doc;
  } catch (err) {
    if (err instanceof TomlError) {
      const firstLine = err.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new ConfigError(
        file,
        "",
        `invalid TOML at line ${err.line}, column ${err.column}: ${firstLine}`,
        "correct the syntax (strings need quotes, tables [name], keys key = value)",
        err.line,
      );
    }
    throw err;
  }
}

/** What kind of thing a path is, for messages: "a directory", "a socket"... */
export function kindOf(st: { isDirectory(): boolean; isSocket(): boolean; isFIFO(): boolean }): string {
  if (st.isDirectory()) return "a directory";
  if (st.isSocket()) return "a socket";
  if (st.isFIFO()) return "a named pipe";
  return "not a regular file";
}

/**
 * The config file's text; when there is none, `makeDefault` supplies one that
 * is written first (mode 0600) and its description returned. Anything in the
 * way (a directory, no read permission) is a ConfigError saying how to fix it.
 */
export function readConfigText(
  file: string,
  makeDefault: () => { text: string; picked: string },
): { text: string; wroteDefault: string | null } {
  const code = (err: unknown) => (err as NodeJS.ErrnoException).code;
  let wroteDefault: string | null = null;
  let action = "read";
  try {
    const st = statSync(file, { throwIfNoEntry: false });
    if (st === undefined) {
      const def = makeDefault();
      action = "written";
      writeFileSync(file, def.text, { mode: 0o600 });
      action = "read";
      wroteDefault = def.picked;
    } else if (!st.isFile()) {
      throw new ConfigError(
        file,
        "",
        `is ${kindOf(st)}, not a file`,
        `move it out of the way (the daemon writes a default config when none exists) or point CRABTALK_HOME elsewhere`,
      );
    }
    return { text: readFileSync(file, "utf8"), wroteDefault };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const uid = process.getuid?.();
    const who = uid === undefined ? "the daemon's user" : `uid ${uid}, the daemon's user`;
    if (code(err) === "EACCES" || code(err) === "EPERM")
      throw new ConfigError(
        file,
        "",
        `cannot be ${action}: permission denied for ${who}`,
        action === "read"
          ? `let ${who} read it (for example chown it to that user and chmod 600 it)`
          : `make its directory writable by ${who}, or write the config there yourself`,
      );
    throw new ConfigError(
      file,
      "",
      `cannot be ${action}: ${(err as Error).message}`,
      "check the path and its parent directories",
    );
  }
}

export interface ParseOptions {
  home: string;
  /** The built-in tool names: the grant of an agent that writes no `tools`. */
  builtinTools: readonly string[];
}

export function parseConfig(text: string, ctx: ConfigContext, opts: ParseOptions): Config {
  const raw = parseToml(text, ctx.file);
  try {
    return parseSections(raw, ctx, opts);
  } catch (err) {
    if (!(err instanceof ConfigError) || err.line !== undefined) throw err;
    const line = locateKey(text, err.locate ?? err.key);
    throw line === undefined ? err : err.atLine(line);
  }
}

function parseSections(raw: Table, ctx: ConfigContext, opts: ParseOptions): Config {
  rejectUnknownKeys(ctx, "", raw, SECTIONS);
  const providers = parseProviders(raw.provider, ctx);
  // With no provider at all the default agent still exists; its turns fail with "no providers are configured" until one is added.
  const defaultModel = providers[0]?.models[0] ?? "";
  const agents = parseAgents(raw, ctx, {
    defaultModel,
    builtinTools: opts.builtinTools,
    agentsDir: join(opts.home, "agents"),
    home: opts.home,
  });
  const daemon = parseDaemonSection(raw.daemon, ctx);
  const mcp = parseMcp(raw, ctx, opts.home);
  checkAgentServers(agents.agents, mcp, ctx);
  checkMembers(agents.agents, ctx);
  const skillDirs = parseSkillDirs(isTable(raw.daemon) ? raw.daemon.skill_dirs : undefined, ctx, opts.home);
  return {
    file: ctx.file,
    daemon,
    providers,
    agents,
    services: parseServices(raw.services, ctx),
    skillDirs,
    memory: parseMemorySection(raw.memory, ctx),
    mcp,
    delegation: parseDelegation(raw.delegation, ctx),
    raw,
  };
}
