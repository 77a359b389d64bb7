/**
 * Every response of the dashboard's server carries the same security
 * headers (CSP with frame-ancestors, nosniff, no-referrer, no framing),
 * including those sent before a request is trusted: the 421 for a wrong
 * Host, the 413 for a body no dashboard request has, and the 500 for a
 * request that failed. A real server in-process (src/daemon/http/server.ts)
 * over real HTTP; the handler table is empty (no WebSocket is opened here).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultDaemonSettings } from "../../../src/config/daemon.ts";
import { Gate } from "../../../src/daemon/auth.ts";
import { DashboardServer, failureResponse } from "../../../src/daemon/http/server.ts";

const SECURITY = [
  "content-security-policy",
  "x-content-type-options",
  "referrer-policy",
  "x-frame-options",
  "cross-origin-opener-policy",
  "cross-origin-resource-policy",
];

let home: string;
let server: DashboardServer;
let base: string;
let host: string;

function securityOf(res: Response): Record<string, string | null> {
  return Object.fromEntries(SECURITY.map((name) => [name, res.headers.get(name)]));
}

describe("security headers on early responses", () => {
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "crabtalk-early-headers-"));
    const settings = { ...defaultDaemonSettings(), http: { host: "127.0.0.1", port: 0 } };
    const started = await DashboardServer.start({
      settings,
      home,
      gate: new Gate(join(home, "tokens.json"), { loopbackListener: true, loopbackTrusted: false }),
      handlers: () => ({}),
      routers: new Map(),
      maxConnections: 4,
      accessFor: () => {
        throw new Error("no WebSocket is opened in this test");
      },
    });
    server = started!;
    base = server.url;
    host = new URL(base).host;
  });

  afterAll(() => {
    server?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test("an ordinary page carries every security header (the reference)", async () => {
    const res = await fetch(`${base}/login`);
    expect(res.status).toBe(200);
    const h = securityOf(res);
    for (const name of SECURITY) expect(h[name], name).toBeTruthy();
    expect(h["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(h["content-security-policy"]).toContain(`connect-src 'self' ws://${host}`);
    expect(h["x-content-type-options"]).toBe("nosniff");
    expect(h["referrer-policy"]).toBe("no-referrer");
  });

  test("the 421 for a wrong Host carries the same headers, naming the dashboard's own address", async () => {
    const reference = securityOf(await fetch(`${base}/login`));
    const res = await fetch(`${base}/login`, { headers: { Host: `rebind.example:${new URL(base).port}` } });
    expect(res.status).toBe(421);
    expect(securityOf(res)).toEqual(reference);
    expect(res.headers.get("content-security-policy")).not.toContain("rebind.example");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  test("the 413 for an oversized body carries the same headers", async () => {
    const reference = securityOf(await fetch(`${base}/login`));
    const res = await fetch(`${base}/login`, {
      method: "POST",
      headers: { Origin: base, "Content-Type": "application/x-www-form-urlencoded" },
      body: `token=${"x".repeat(70 * 1024)}`,
    });
    expect(res.status).toBe(413);
    expect(securityOf(res)).toEqual(reference);
    expect(await res.text()).toContain("at most 65536 bytes");
  });

  test("the 500 for a request that threw carries the same headers and no detail of the failure", async () => {
    const reference = securityOf(await fetch(`${base}/login`));
    const res = failureResponse(server.site, new Error("secret internal detail"));
    expect(res.status).toBe(500);
    expect(securityOf(res)).toEqual(reference);
    expect(await res.text()).not.toContain("secret internal detail");
  });
});
