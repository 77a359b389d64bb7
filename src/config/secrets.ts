/**
 * Secrets in the config text, for config over the wire. `GetConfig` shows
 * the file with every literal secret replaced by "***" (a value written as
 * `${VAR}` is a reference, not a secret, and is shown as written);
 * `SetConfigMsg` takes a whole text in which "***" means "keep the secret
 * this key holds now", so a get-edit-set round trip never loses a key and
 * never needs to see one.
 *
 * What counts as a secret: every string whose key names one (api_key, key,
 * token, secret, password, authorization, credentials...) and any string
 * under an `env` or `headers` table (values there are credentials more often
 * than not, and a header's name says nothing reliable).
 */
import { ConfigError, isTable, type Table } from "./errors.ts";
import { locateKey } from "./locate.ts";

export const REDACTED = "***";

const SECRET_KEY = /(^|[_-])(api[_-]?key|key|token|secret|password|passwd|authorization|auth|credentials?|cookie)$/i;
const SECRET_TABLES = new Set(["env", "headers"]);

export interface SecretEntry {
  /** Dotted path (as config errors spell keys). */
  path: string;
  /** The key's own name, as written. */
  key: string;
  value: string;
}

/** Every string in the document that holds a secret, with its path. */
export function secretEntries(doc: Table): SecretEntry[] {
  const out: SecretEntry[] = [];
  const walk = (value: unknown, path: string[], underSecretTable: boolean): void => {
    if (typeof value === "string") {
      const key = path.at(-1) ?? "";
      if (underSecretTable || SECRET_KEY.test(key)) out.push({ path: path.join("."), key, value });
      return;
    }
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, [...path, String(i)], underSecretTable);
      return;
    }
    if (isTable(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k], underSecretTable || SECRET_TABLES.has(k));
    }
  };
  walk(doc, [], false);
  return out;
}

/**
 * A copy of a JSON-like value with every secret string (by the key rule
 * above) shown as "***": for config a client may see (a service's config
 * table, after ${VAR} expansion, holds real tokens).
 */
export function redactSecretValues(value: unknown, underSecretTable = false, key = ""): unknown {
  if (typeof value === "string") return underSecretTable || SECRET_KEY.test(key) ? REDACTED : value;
  if (Array.isArray(value)) return value.map((v) => redactSecretValues(v, underSecretTable, key));
  if (isTable(value)) {
    const out: Table = {};
    for (const [k, v] of Object.entries(value))
      out[k] = redactSecretValues(v, underSecretTable || SECRET_TABLES.has(k), k);
    return out;
  }
  return value;
}

/** A literal secret, as opposed to a ${VAR} reference that is safe to show. */
export function isLiteral(value: string): boolean {
  return value !== REDACTED && !/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value.trim()) && value.length > 0;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The config text with every literal secret shown as "***". */
export function redactConfigText(text: string, doc: Table): string {
  let out = text;
  const literals = [
    ...new Set(
      secretEntries(doc)
        .map((e) => e.value)
        .filter(isLiteral),
    ),
  ];
  // Longest first, so a secret that contains another is replaced whole.
  literals.sort((a, b) => b.length - a.length);
  for (const value of literals) {
    out = out.split(JSON.stringify(value)).join(`"${REDACTED}"`);
    out = out.split(`'${value}'`).join(`"${REDACTED}"`);
    // Anything left (a multi-line string, an unusual escape): never show it. Short values only match
    // quoted, or every "x" in the file would go with a one-letter key.
    if (value.length >= 8) out = out.split(value).join(REDACTED);
  }
  return out;
}

/**
 * Puts back the current secrets where `text` says "***". A "***" at a key
 * that holds no secret now is an error: there is nothing to keep.
 */
export function restoreSecrets(text: string, doc: Table, current: Table, file: string): string {
  const now = new Map(secretEntries(current).map((e) => [e.path, e.value]));
  const lines = text.split("\n");
  for (const entry of secretEntries(doc)) {
    if (entry.value !== REDACTED) continue;
    const kept = now.get(entry.path);
    if (kept === undefined || kept === REDACTED) {
      throw new ConfigError(
        file,
        entry.path,
        `is "${REDACTED}" but no secret is configured at this key now, so there is nothing to keep`,
        "write the secret itself, or a ${VAR} reference to the environment",
        locateKey(text, entry.path),
      );
    }
    const line = locateKey(text, entry.path);
    const quotedKey = `(?:${escapeRegExp(entry.key)}|"${escapeRegExp(entry.key)}"|'${escapeRegExp(entry.key)}')`;
    const pattern = new RegExp(`(${quotedKey}\\s*=\\s*)(?:"\\*\\*\\*"|'\\*\\*\\*')`);
    const index = line !== undefined ? line - 1 : lines.findIndex((l) => pattern.test(l));
    const target = lines[index];
    if (target === undefined || !pattern.test(target)) {
      throw new ConfigError(
        file,
        entry.path,
        `"${REDACTED}" could not be matched to its key in the text`,
        `write ${entry.key} = "${REDACTED}" on one line, or write the secret itself`,
        line,
      );
    }
    lines[index] = target.replace(pattern, (_m, lead: string) => `${lead}${JSON.stringify(kept)}`);
  }
  return lines.join("\n");
}
