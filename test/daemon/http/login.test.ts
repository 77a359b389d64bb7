/**
 * Dashboard logins (src/daemon/http/login.ts): one-time links that expire,
 * cookie sessions that expire, persist hashed and owner-only, and survive a
 * new instance (a daemon restart).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DashboardLogins, LOGIN_TTL_MS, SESSION_TTL_MS } from "../../../src/daemon/http/login.ts";

const dirs: string[] = [];
function file(): string {
  const dir = mkdtempSync(join(tmpdir(), "crabtalk-login-"));
  dirs.push(dir);
  return join(dir, "dashboard-sessions.json");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("login links", () => {
  test("a link works once; an unknown one never", () => {
    const logins = new DashboardLogins(file());
    const { token } = logins.mintLogin();
    expect(logins.redeemLogin("not-a-token")).toBe(false);
    expect(logins.redeemLogin(token)).toBe(true);
    expect(logins.redeemLogin(token)).toBe(false);
  });

  test("a link expires after LOGIN_TTL_MS", () => {
    let now = 1_000_000;
    const logins = new DashboardLogins(file(), () => now);
    const { token, expiresMs } = logins.mintLogin();
    expect(expiresMs).toBe(now + LOGIN_TTL_MS);
    now += LOGIN_TTL_MS;
    expect(logins.redeemLogin(token)).toBe(false);
  });

  test("at most 16 links wait; the oldest is dropped first", () => {
    const logins = new DashboardLogins(file());
    const first = logins.mintLogin().token;
    const rest = Array.from({ length: 16 }, () => logins.mintLogin().token);
    expect(logins.redeemLogin(first)).toBe(false);
    expect(logins.redeemLogin(rest[0]!)).toBe(true);
  });
});

describe("cookie sessions", () => {
  test("persisted hashed and owner-only; a new instance knows them; they expire after SESSION_TTL_MS", () => {
    let now = 5_000_000;
    const path = file();
    const logins = new DashboardLogins(path, () => now);
    const { cookie } = logins.createSession({ kind: "owner" });
    const viewer = { kind: "token", name: "viewer", hash: "cd".repeat(32), scope: "read", agents: ["crab"] } as const;
    const token = logins.createSession({ ...viewer, agents: ["crab"] }, "ab".repeat(32)).cookie;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8")).not.toContain(cookie);
    const restarted = new DashboardLogins(path, () => now);
    expect(restarted.lookup(cookie)).toEqual({ principal: { kind: "owner" }, tokenHash: null });
    expect(restarted.lookup(token)).toEqual({ principal: { ...viewer, agents: ["crab"] }, tokenHash: "ab".repeat(32) });
    expect(restarted.lookup("guess")).toBeNull();
    now += SESSION_TTL_MS;
    expect(restarted.lookup(cookie)).toBeNull();
    expect(new DashboardLogins(path, () => now).lookup(token)).toBeNull();
  });

  test("logout ends a session for every instance", () => {
    const path = file();
    const logins = new DashboardLogins(path);
    const { cookie } = logins.createSession({ kind: "owner" });
    logins.endSession(cookie);
    expect(logins.lookup(cookie)).toBeNull();
    expect(new DashboardLogins(path).lookup(cookie)).toBeNull();
  });

  test("a damaged file, or a record with a forged principal, is ignored: pages log in again", () => {
    const path = file();
    writeFileSync(path, "{not json");
    expect(new DashboardLogins(path).lookup("x")).toBeNull();
    const hash = "0".repeat(64);
    writeFileSync(
      path,
      JSON.stringify({ sessions: [{ hash, principal: { kind: "root" }, createdMs: 0, expiresMs: Date.now() + 1e6 }] }),
    );
    const logins = new DashboardLogins(path);
    const { cookie } = logins.createSession({ kind: "owner" });
    expect(JSON.parse(readFileSync(path, "utf8")).sessions).toHaveLength(1);
    expect(logins.lookup(cookie)?.principal).toEqual({ kind: "owner" });
  });
});
