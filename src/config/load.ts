/**
 * Reads and validates $CRABTALK_HOME/crabtalk.toml. The file holds only what
 * the user writes; defaults live in code. Any problem is a ConfigError naming
 * the file, line where known, key and fix.
 */
import { parse, TomlError } from "smol-toml";
import { ConfigError, isTable, type ConfigContext, type Table } from "./errors.ts";
import { parseDaemonSection, type DaemonSettings } from "./daemon.ts";

export interface Config {
  file: string;
  daemon: DaemonSettings;
  /** The parsed document, for sections other modules validate. */
  raw: Table;
}

export function parseToml(text: string, file: string): Table {
  try {
    const doc = parse(text);
    if (!isTable(doc)) throw new ConfigError(file, "", "the document is not a table", "check the file is TOML");
    return doc;
  } catch (err) {
    if (err instanceof TomlError) {
      const firstLine = err.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new ConfigError(file, "", `invalid TOML at line ${err.line}, column ${err.column}: ${firstLine}`, "correct the syntax (strings need quotes, tables [name], keys key = value)", err.line);
    }
    throw err;
  }
}

export function parseConfig(text: string, ctx: ConfigContext): Config {
  const raw = parseToml(text, ctx.file);
  return { file: ctx.file, daemon: parseDaemonSection(raw.daemon, ctx), raw };
}
