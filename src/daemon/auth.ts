/**
 * Authentication of TCP clients: which connections must present a token,
 * checking a token against the store (re-read whenever tokens.toml changes),
 * and the brute-force brake per source address.
 *
 * Who must authenticate (decided when a connection opens):
 * - the Unix socket never does (it is owner-only, mode 0600);
 * - TCP on a non-loopback listener (0.0.0.0, a LAN address): always, even a
 *   client arriving from 127.0.0.1, since the token is the only identity;
 * - TCP on a loopback listener: only when tokens exist and
 *   loopback_trusted is false; otherwise the same-user rule (peer uid) holds.
 *
 * Brute force: each failure from an address makes its next attempt wait
 * (BASE_DELAY_MS doubling, at most MAX_DELAY_MS); BAN_AFTER failures ban the
 * address for BAN_MS (its connections are refused at once). A success
 * clears the address's count. Logs name the address and the claimed token
 * name, never the token.
 */
import { isLoopbackHost } from "../config/daemon.ts";
import { claimedName, fileStamp, matchToken, readTokens, type Scope, type TokenRecord } from "../config/tokens.ts";
import { ErrorCode, WireError } from "../protocol/errors.ts";
import { logger } from "../util/log.ts";

const log = logger("auth");

export const BASE_DELAY_MS = 25;
export const MAX_DELAY_MS = 2000;
export const BAN_AFTER = 10;
export const BAN_MS = 10 * 60_000;

/**
 * Who a connection acts as: the owner (Unix socket, trusted loopback) or a
 * token, with the stored hash it was checked against (a token re-created
 * under its name is another token).
 */
export type Principal =
  | { kind: "owner" }
  | { kind: "token"; name: string; hash: string; scope: Scope; agents: string[] | null };

export const OWNER: Principal = { kind: "owner" };

export const UNAUTHORIZED = 401;

interface AddressState {
  failures: number;
  /** No attempt from this address is checked before this time. */
  nextAttemptAt: number;
  bannedUntil: number;
}

export class Gate {
  private tokens: TokenRecord[] = [];
  private stamp = "";
  private readonly addresses = new Map<string, AddressState>();
  failures = 0;

  constructor(
    readonly tokensFile: string,
    private readonly options: { loopbackListener: boolean; loopbackTrusted: boolean },
  ) {
    this.refresh();
  }

  get tokenCount(): number {
    return this.tokens.length;
  }

  /** Re-reads the store when the file changed; true when it did. A broken file keeps the last good tokens. */
  refresh(): boolean {
    const stamp = fileStamp(this.tokensFile);
    if (stamp === this.stamp) return false;
    this.stamp = stamp;
    try {
      this.tokens = readTokens(this.tokensFile);
      // Quiet while there is no store: a daemon without remote clients says nothing about tokens.
      if (stamp !== "none") log.info(`token store ${this.tokensFile}: ${this.tokens.length} token(s)`);
    } catch (err) {
      log.error(`${(err as Error).message}; keeping the ${this.tokens.length} token(s) read before`);
    }
    return true;
  }

  /** Whether a TCP connection from this address must send Auth first. */
  requiresToken(): boolean {
    if (!this.options.loopbackListener) return true;
    return this.tokens.length > 0 && !this.options.loopbackTrusted;
  }

  /** Addresses banned now (for status). */
  banned(now = Date.now()): string[] {
    return [...this.addresses].filter(([, s]) => s.bannedUntil > now).map(([a]) => a);
  }

  isBanned(address: string, now = Date.now()): boolean {
    return (this.addresses.get(address)?.bannedUntil ?? 0) > now;
  }

  /**
   * A token principal still valid now: not revoked, not expired, and the very
   * token it was (same hash, scope and agents): a token revoked and re-created
   * under its name, or edited, ends the connections that used the old one.
   */
  stillValid(principal: Principal, now = Date.now()): boolean {
    if (principal.kind === "owner") return true;
    const t = this.tokens.find((r) => r.name === principal.name);
    return (
      t !== undefined &&
      t.hash === principal.hash &&
      t.scope === principal.scope &&
      JSON.stringify(t.agents) === JSON.stringify(principal.agents) &&
      (t.expiresMs === null || t.expiresMs > now)
    );
  }

  /** The stored record of a token name now (read after refresh()), for sessions that outlive a connection. */
  recordOf(name: string): TokenRecord | undefined {
    return this.tokens.find((r) => r.name === name);
  }

  /**
   * Checks a token from `address`, waiting out the address's brake first.
   * Throws WireError 401 (wrong, revoked, expired) or 429 (banned).
   */
  async authenticate(address: string, token: string): Promise<Principal> {
    const state = this.addresses.get(address) ?? { failures: 0, nextAttemptAt: 0, bannedUntil: 0 };
    this.addresses.set(address, state);
    const wait = state.nextAttemptAt - Date.now();
    if (wait > 0) await Bun.sleep(wait);
    const claimed = claimedName(token) ?? "(not a crabtalk token)";
    if (this.isBanned(address))
      throw new WireError(
        ErrorCode.BudgetExceeded,
        `too many failed authentications from ${address}; try again in ${Math.ceil((state.bannedUntil - Date.now()) / 60_000)} min`,
      );
    this.refresh();
    const record = matchToken(this.tokens, token);
    const now = Date.now();
    let problem: string | null = null;
    if (!record) problem = "unknown or revoked token";
    else if (record.expiresMs !== null && record.expiresMs <= now)
      problem = `token "${record.name}" expired at ${new Date(record.expiresMs).toISOString()}`;
    if (record && problem === null) {
      this.addresses.delete(address);
      log.info(`${address} authenticated as token "${record.name}" (${record.scope})`);
      return { kind: "token", name: record.name, hash: record.hash, scope: record.scope, agents: record.agents };
    }
    this.failures++;
    state.failures++;
    state.nextAttemptAt = now + Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (state.failures - 1));
    if (state.failures >= BAN_AFTER) {
      state.bannedUntil = now + BAN_MS;
      log.warn(`banning ${address} for ${BAN_MS / 60_000} min after ${state.failures} failed authentications`);
    }
    log.warn(`failed authentication from ${address} (token name "${claimed}"): ${problem}`);
    throw new WireError(
      UNAUTHORIZED,
      `authentication failed: ${problem}. Fix: ask the daemon's owner for a token (crabtalk token create NAME --scope chat) and pass it with --token or CRABTALK_TOKEN`,
    );
  }
}

/** Whether the listener's host only this machine can reach. */
export function loopbackListener(host: string): boolean {
  return isLoopbackHost(host);
}
