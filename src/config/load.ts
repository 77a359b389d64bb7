/**
 * Reads and validates $CRABTALK_HOME/crabtalk.toml. The file holds only what
 * the user writes; defaults live in code. Any problem is a ConfigError naming
 * the file, line where known, key and fix.
 */
import { join } from "node:path";
import { parse, TomlError } from "smol-toml";
import { ConfigError, isTable, rejectUnknownKeys, type ConfigContext, type Table } from "./errors.ts";
import { parseDaemonSection, type DaemonSettings } from "./daemon.ts";
import { parseProviders, type ProviderConfig } from "./providers.ts";
import { parseAgents, type AgentsConfig } from "./agents.ts";

export interface Config {
  file: string;
  daemon: DaemonSettings;
  providers: ProviderConfig[];
  agents: AgentsConfig;
  /** The parsed document, for sections other modules validate. */
  raw: Table;
}

const SECTIONS = ["daemon", "provider", "agents", "permissions", "budget"] as const;

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

export interface ParseOptions {
  home: string;
  /** Tool names that exist (built-in now; MCP and extensions later). */
  knownTools: readonly string[];
}

export function parseConfig(text: string, ctx: ConfigContext, opts: ParseOptions): Config {
  const raw = parseToml(text, ctx.file);
  rejectUnknownKeys(ctx, "", raw, SECTIONS);
  const providers = parseProviders(raw.provider, ctx);
  // With no provider at all the default agent still exists; its turns fail with "no providers are configured" until one is added.
  const defaultModel = providers[0]?.models[0] ?? "";
  const agents = parseAgents(raw, ctx, {
    defaultModel,
    knownTools: opts.knownTools,
    agentsDir: join(opts.home, "agents"),
    home: opts.home,
  });
  return { file: ctx.file, daemon: parseDaemonSection(raw.daemon, ctx), providers, agents, raw };
}
