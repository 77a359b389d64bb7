/**
 * Rewriting a TOML file that holds one array of tables (crons.toml's
 * [[cron]], events.toml's [[subscription]]): read, let the caller edit the
 * entries, write atomically (temp file + rename, 0600). Entries the caller
 * leaves alone are kept as parsed, refused ones included; comments are not
 * (the file is written from its parsed form), so a header says so.
 */
import { readFileSync } from "node:fs";
import { parse, stringify, TomlError } from "smol-toml";
import { isTable, type Table } from "./errors.ts";
import { writeFileAtomicSync } from "../util/atomic-file.ts";

/**
 * Parses a file the daemon reads alongside crabtalk.toml (crons.toml,
 * events.toml): the document, or the problem as one line with file, line,
 * column and the fix, so the rest of the daemon goes on without it.
 */
export function parseSideFile(text: string, file: string): { doc: Table } | { error: string } {
  try {
    return { doc: parse(text) as Table };
  } catch (err) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : "";
    return {
      error: `${file}: invalid TOML${where}: ${(err as Error).message.split("\n")[0]}. Fix: correct the syntax`,
    };
  }
}

export function editTableArrayFile(
  file: string,
  key: string,
  header: string,
  edit: (entries: Table[]) => Table[],
): void {
  let doc: Table = {};
  try {
    doc = parse(readFileSync(file, "utf8")) as Table;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      throw new Error(`${file} cannot be rewritten: ${(err as Error).message}. Fix the file by hand first`);
  }
  const entries = Array.isArray(doc[key]) ? (doc[key] as unknown[]).filter(isTable) : [];
  doc[key] = edit(entries);
  writeFileAtomicSync(file, `# ${header}\n${stringify(doc)}\n`);
}
