/**
 * Writes one service's `config` table into crabtalk.toml, for
 * SetServiceConfigMsg, atomically (a temporary file renamed over the old).
 *
 * The edit is textual where it can be, so the rest of the file keeps its
 * comments and layout: the one-line `config = {...}` of [services.<name>]
 * is replaced, or one is added under the header. When the table is written
 * another way (a [services.<name>.config] section, a multi-line inline
 * table) the whole document is re-serialized instead; that keeps every key
 * and value but loses the file's comments and layout (a documented
 * limitation). Either way the result is parsed back and checked before it
 * replaces the file.
 */
import { readFileSync } from "node:fs";
import { parse, stringify } from "smol-toml";
import { writeFileAtomicSync } from "../util/atomic-file.ts";

/** A JSON value as a TOML inline value; null has no TOML spelling. */
function inline(value: unknown, path: string): string {
  if (value === null) throw new TypeError(`${path} is null, which TOML cannot hold; leave the key out instead`);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`${path} is not a finite number`);
    return Number.isInteger(value) ? String(value) : String(value);
  }
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map((v, i) => inline(v, `${path}[${i}]`)).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => `${/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k)} = ${inline(v, `${path}.${k}`)}`,
    );
    return entries.length ? `{ ${entries.join(", ")} }` : "{}";
  }
  throw new TypeError(`${path} has a value TOML cannot hold (${typeof value})`);
}

/** Throws a TypeError naming the first value TOML cannot hold (null, NaN...). */
export function checkTomlValue(value: Record<string, unknown>): void {
  inline(value, "config");
}

type Doc = Record<string, unknown>;

/** The edited text, or null when the textual edit does not apply. */
function editText(text: string, name: string, value: Record<string, unknown>): string | null {
  const lines = text.split("\n");
  const header = new RegExp(`^\\s*\\[\\s*services\\s*\\.\\s*("${name}"|'${name}'|${name})\\s*\\]\\s*(#.*)?$`);
  const start = lines.findIndex((l) => header.test(l));
  if (start < 0) return null;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++)
    if (/^\s*\[/.test(lines[i]!)) {
      end = i;
      break;
    }
  const line = `config = ${inline(value, "config")}`;
  const at = lines.slice(start + 1, end).findIndex((l) => /^\s*config\s*=/.test(l));
  if (at < 0) {
    lines.splice(start + 1, 0, line);
    return lines.join("\n");
  }
  const existing = lines[start + 1 + at]!;
  // Only a one-line inline table is replaced in place.
  if (!/^\s*config\s*=\s*\{.*\}\s*(#.*)?$/.test(existing)) return null;
  lines[start + 1 + at] = line;
  return lines.join("\n");
}

export function writeServiceConfig(file: string, name: string, value: Record<string, unknown>): void {
  inline(value, "config"); // every value must be representable before anything is touched
  const text = readFileSync(file, "utf8");
  let next = editText(text, name, value);
  if (next !== null) {
    try {
      const doc = parse(next) as Doc;
      if (!sameJson((doc.services as Doc | undefined)?.[name] as Doc | undefined, value)) next = null;
    } catch {
      next = null;
    }
  }
  if (next === null) {
    const doc = parse(text) as Doc;
    const services = (doc.services ?? {}) as Doc;
    const section = (services[name] ?? {}) as Doc;
    section.config = value;
    services[name] = section;
    doc.services = services;
    next = `${stringify(doc)}\n`;
  }
  writeFileAtomicSync(file, next);
}

function sameJson(section: Doc | undefined, value: Record<string, unknown>): boolean {
  return JSON.stringify(section?.config) === JSON.stringify(value);
}
