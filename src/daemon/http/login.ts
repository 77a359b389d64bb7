/**
 * Dashboard logins: one-time login tokens (minted for `crabtalk dashboard`,
 * held in memory) and the cookie sessions they become.
 *
 * A login token works once and for LOGIN_TTL_MS; it makes an owner session.
 * A remote token pasted on the login page makes a session acting as that
 * token (its scope and agents; revoking the token ends the session at its
 * next use). Cookie sessions outlive a daemon restart (the open page
 * reconnects and catches up without logging in again): they are persisted
 * to dashboard-sessions.json under $CRABTALK_HOME, owner-only, as SHA-256
 * hashes of the cookie (the cookie itself is never stored), and expire
 * after SESSION_TTL_MS.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hashToken, matchToken, SCOPES, type Scope } from "../../config/tokens.ts";
import { logger } from "../../util/log.ts";
import type { Principal } from "../auth.ts";
import { writeFileAtomicSync } from "../../util/atomic-file.ts";

const log = logger("http");

/** Five minutes: long enough to switch to the browser, short enough that a leaked link is stale. */
export const LOGIN_TTL_MS = 5 * 60_000;
/** A week: a dashboard left open survives restarts and weekends, and a stolen cookie does not live on. */
export const SESSION_TTL_MS = 7 * 86_400_000;
/** Outstanding login links: `crabtalk dashboard` run in a loop must not grow the daemon; the oldest go first. */
const MAX_LOGIN_TOKENS = 16;
/** Cookie sessions kept: far more than one owner's browsers; the oldest go first. */
const MAX_SESSIONS = 256;

interface SessionRecord {
  hash: string;
  principal: Principal;
  /** For a token's session: the token's stored hash, so a token revoked and created again under its name is not it. */
  tokenHash?: string;
  createdMs: number;
  expiresMs: number;
}

/** Who a cookie acts as; a token's session also names the token it was opened with. */
export interface CookieSession {
  principal: Principal;
  tokenHash: string | null;
}

function secret(): string {
  return randomBytes(32).toString("base64url");
}

export function sessionsFileIn(home: string): string {
  return join(home, "dashboard-sessions.json");
}

export class DashboardLogins {
  private readonly logins = new Map<string, number>();
  private sessions: SessionRecord[] = [];

  constructor(
    private readonly file: string,
    private readonly now: () => number = Date.now,
  ) {
    this.sessions = readSessions(file).filter((s) => s.expiresMs > now());
  }

  /** A new one-time login token and when it stops working. */
  mintLogin(): { token: string; expiresMs: number } {
    this.dropExpiredLogins();
    while (this.logins.size >= MAX_LOGIN_TOKENS) this.logins.delete(this.logins.keys().next().value as string);
    const token = secret();
    const expiresMs = this.now() + LOGIN_TTL_MS;
    this.logins.set(hashToken(token), expiresMs);
    return { token, expiresMs };
  }

  /** True once per valid token: it is forgotten by the first attempt, whatever the outcome. */
  redeemLogin(token: string): boolean {
    this.dropExpiredLogins();
    const key = hashToken(token);
    const expiresMs = this.logins.get(key);
    this.logins.delete(key);
    return expiresMs !== undefined && expiresMs > this.now();
  }

  /** A new cookie session for `principal`; returns the cookie value (shown to the browser only). */
  createSession(principal: Principal, tokenHash: string | null = null): { cookie: string; expiresMs: number } {
    const cookie = secret();
    const now = this.now();
    const record: SessionRecord = {
      hash: hashToken(cookie),
      principal,
      ...(tokenHash ? { tokenHash } : {}),
      createdMs: now,
      expiresMs: now + SESSION_TTL_MS,
    };
    this.sessions = this.sessions.filter((s) => s.expiresMs > now);
    while (this.sessions.length >= MAX_SESSIONS) this.sessions.shift();
    this.sessions.push(record);
    this.persist();
    return { cookie, expiresMs: record.expiresMs };
  }

  /** Who a cookie acts as, or null (unknown, expired). Compares hashes in constant time. */
  lookup(cookie: string): CookieSession | null {
    const now = this.now();
    const found = matchToken(this.sessions, cookie);
    return found && found.expiresMs > now ? { principal: found.principal, tokenHash: found.tokenHash ?? null } : null;
  }

  /** Ends a cookie session (logout, or its token was revoked). */
  endSession(cookie: string): void {
    const hash = hashToken(cookie);
    const before = this.sessions.length;
    this.sessions = this.sessions.filter((s) => s.hash !== hash);
    if (this.sessions.length !== before) this.persist();
  }

  private dropExpiredLogins(): void {
    const now = this.now();
    for (const [key, expiresMs] of this.logins) if (expiresMs <= now) this.logins.delete(key);
  }

  /** Written aside and renamed, owner-only; a failure is logged (sessions then last until the restart). */
  private persist(): void {
    try {
      writeFileAtomicSync(this.file, `${JSON.stringify({ sessions: this.sessions })}\n`);
    } catch (err) {
      log.warn(
        `cannot save dashboard sessions to ${this.file}: ${(err as Error).message}; pages will have to log in again after a restart`,
      );
    }
  }
}

function isPrincipal(p: unknown): p is Principal {
  const v = p as Record<string, unknown> | null;
  if (v?.kind === "owner") return true;
  return (
    v?.kind === "token" &&
    typeof v.name === "string" &&
    SCOPES.includes(v.scope as Scope) &&
    (v.agents === null || (Array.isArray(v.agents) && v.agents.every((a) => typeof a === "string")))
  );
}

/** The stored sessions; a missing file is none, a damaged one is logged and ignored (pages log in again). */
function readSessions(file: string): SessionRecord[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  try {
    const raw = (JSON.parse(text) as { sessions?: unknown }).sessions;
    if (!Array.isArray(raw)) throw new Error("no sessions array");
    return raw.filter(
      (s): s is SessionRecord =>
        typeof s?.hash === "string" &&
        /^[0-9a-f]{64}$/.test(s.hash) &&
        typeof s.expiresMs === "number" &&
        typeof s.createdMs === "number" &&
        (s.tokenHash === undefined || typeof s.tokenHash === "string") &&
        isPrincipal(s.principal),
    );
  } catch (err) {
    log.warn(`ignoring ${file} (${(err as Error).message}); dashboard pages will have to log in again`);
    return [];
  }
}
