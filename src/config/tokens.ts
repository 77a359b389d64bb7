/**
 * The token store for remote clients: $CRABTALK_HOME/tokens.toml (mode 0600),
 * written by `crabtalk token` and read by the daemon (which re-reads it when
 * it changes, so a revocation takes effect at once).
 *
 *   [tokens.laptop]
 *   hash = "9f86d0..."        # SHA-256 of the token, hex; the token itself is never stored
 *   scope = "chat"            # read | chat | admin
 *   agents = ["crab"]         # optional: only these agents' sessions and events
 *   created_ms = 1764500000000
 *   expires_ms = 1767092000000  # optional
 *
 * A token is `crabtalk_<name>_<43 base64url chars>`: 32 random bytes (256
 * bits), so a plain SHA-256 is a sound hash (no dictionary to guess from).
 * The name in it lets the daemon log which token an attempt claimed without
 * ever logging the secret.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { writeFileAtomicSync } from "../util/atomic-file.ts";

/**
 * node:crypto is loaded on the first hash, not with this module: the daemon
 * imports the token store before its socket accepts and needs no hash until a
 * token is presented (node:crypto costs a few ms to load; issue 20).
 */
let nodeCrypto: typeof import("node:crypto") | null = null;
function cryptoLib(): typeof import("node:crypto") {
  nodeCrypto ??= require("node:crypto") as typeof import("node:crypto");
  return nodeCrypto;
}

export const SCOPES = ["read", "chat", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface TokenRecord {
  name: string;
  hash: string;
  scope: Scope;
  /** Null: every agent. */
  agents: string[] | null;
  createdMs: number;
  /** Null: never expires. */
  expiresMs: number | null;
}

export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function tokensFileIn(home: string): string {
  return join(home, "tokens.toml");
}

export function hashToken(token: string): string {
  return cryptoLib().createHash("sha256").update(token).digest("hex");
}

/** The name a token claims (for logs), or null when it is not shaped like one of ours. */
export function claimedName(token: string): string | null {
  const m = /^crabtalk_([a-z0-9-]{1,40})_[A-Za-z0-9_-]{43}$/.exec(token);
  return m ? m[1]! : null;
}

/** "30d", "12h", "45m", "90s" to milliseconds; null when unreadable. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+)\s*([dhms])$/.exec(text.trim());
  if (!m) return null;
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[m[2] as "d" | "h" | "m" | "s"];
  const ms = Number(m[1]) * unit;
  return ms > 0 ? ms : null;
}

export class TokenFileError extends Error {
  constructor(file: string, problem: string) {
    super(
      `${file}: ${problem}. Fix: edit the file, or remove it and create tokens again with \`crabtalk token create\``,
    );
    this.name = "TokenFileError";
  }
}

/** Reads the store; a missing file is an empty store. Throws TokenFileError on a malformed one. */
export function readTokens(file: string): TokenRecord[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new TokenFileError(file, (err as Error).message);
  }
  let raw: Record<string, unknown>;
  try {
    raw = parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new TokenFileError(file, `not valid TOML (${(err as Error).message})`);
  }
  const table = (raw.tokens ?? {}) as Record<string, Record<string, unknown>>;
  const out: TokenRecord[] = [];
  for (const [name, t] of Object.entries(table)) {
    const scope = t.scope as Scope;
    if (typeof t.hash !== "string" || !/^[0-9a-f]{64}$/.test(t.hash))
      throw new TokenFileError(file, `token "${name}" has no valid hash`);
    if (!SCOPES.includes(scope)) throw new TokenFileError(file, `token "${name}" has scope "${String(t.scope)}"`);
    out.push({
      name,
      hash: t.hash,
      scope,
      agents: Array.isArray(t.agents) ? t.agents.map(String) : null,
      createdMs: Number(t.created_ms ?? 0),
      expiresMs: t.expires_ms === undefined ? null : Number(t.expires_ms),
    });
  }
  return out;
}

/** Writes the whole store atomically, owner-only. */
export function writeTokens(file: string, tokens: TokenRecord[]): void {
  const table: Record<string, Record<string, unknown>> = {};
  for (const t of tokens) {
    table[t.name] = {
      hash: t.hash,
      scope: t.scope,
      ...(t.agents ? { agents: t.agents } : {}),
      created_ms: t.createdMs,
      ...(t.expiresMs !== null ? { expires_ms: t.expiresMs } : {}),
    };
  }
  writeFileAtomicSync(
    file,
    `# crabtalk tokens: hashes only; manage with \`crabtalk token\`\n${stringify({ tokens: table })}\n`,
  );
}

/** Makes a token with 256 random bits; returns the token (shown once) and the record to store. */
export function mintToken(
  name: string,
  scope: Scope,
  agents: string[] | null,
  expiresMs: number | null,
): { token: string; record: TokenRecord } {
  const token = `crabtalk_${name}_${cryptoLib().randomBytes(32).toString("base64url")}`;
  return { token, record: { name, hash: hashToken(token), scope, agents, createdMs: Date.now(), expiresMs } };
}

/**
 * The record a token matches, comparing its hash with every stored hash in
 * constant time (no early exit, so timing tells nothing about near misses).
 */
export function matchToken<T extends { hash: string }>(tokens: readonly T[], token: string): T | null {
  const presented = Buffer.from(hashToken(token), "hex");
  const { timingSafeEqual } = cryptoLib();
  let found: T | null = null;
  for (const t of tokens) {
    if (timingSafeEqual(presented, Buffer.from(t.hash, "hex"))) found = t;
  }
  return found;
}

/** A change stamp for the file (mtime and size and inode), to re-read it only when it changed. */
export function fileStamp(file: string): string {
  const st = statSync(file, { throwIfNoEntry: false });
  return st ? `${st.mtimeMs}:${st.size}:${st.ino}` : "none";
}
