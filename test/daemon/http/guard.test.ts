/**
 * The dashboard's Host and Origin rules (src/daemon/http/guard.ts): which
 * Host headers a bind answers to (DNS rebinding) and which Origins may
 * change state or open the WebSocket (CSRF, cross-site WebSocket hijacking).
 */
import { describe, expect, test } from "bun:test";
import { allowedHosts, checkHost, checkOrigin, securityHeaders, siteUrl } from "../../../src/daemon/http/guard.ts";
import { cookieValue } from "../../../src/daemon/http/server.ts";

const loopback = { host: "127.0.0.1", port: 6689, tls: false };

describe("Host", () => {
  test("a loopback bind answers to its address and the loopback names on the same port", () => {
    for (const host of ["127.0.0.1:6689", "localhost:6689", "LOCALHOST:6689", "[::1]:6689"])
      expect(checkHost(loopback, host)).toBeNull();
  });

  test("another name, another port, no port or no Host at all is 421", () => {
    for (const host of ["evil.example:6689", "127.0.0.1:6690", "127.0.0.1", "127.0.0.2:6689", "", null]) {
      const refusal = checkHost(loopback, host);
      expect(refusal?.status).toBe(421);
      expect(refusal?.message).toContain("http://127.0.0.1:6689");
    }
  });

  test("a named bind answers only to its name; the port may be left out when it is the scheme's default", () => {
    const named = { host: "dash.example", port: 443, tls: true };
    expect(checkHost(named, "dash.example")).toBeNull();
    expect(checkHost(named, "dash.example:443")).toBeNull();
    expect(checkHost(named, "localhost:443")?.status).toBe(421);
    expect(siteUrl(named)).toBe("https://dash.example:443");
  });

  test("IPv6 binds are written in brackets; a wildcard bind is printed and answered as loopback", () => {
    expect(allowedHosts({ host: "::1", port: 80, tls: false })).toContain("[::1]");
    expect(siteUrl({ host: "::1", port: 6689, tls: false })).toBe("http://[::1]:6689");
    expect(siteUrl({ host: "0.0.0.0", port: 6689, tls: false })).toBe("http://127.0.0.1:6689");
    expect(checkHost({ host: "0.0.0.0", port: 6689, tls: false }, "127.0.0.1:6689")).toBeNull();
  });
});

describe("Origin", () => {
  test("the dashboard's own origin passes, whatever case the browser used", () => {
    expect(checkOrigin(loopback, "127.0.0.1:6689", "http://127.0.0.1:6689", false)).toBeNull();
    expect(checkOrigin(loopback, "localhost:6689", "http://LOCALHOST:6689", false)).toBeNull();
  });

  test("another site, another port, another scheme or the null origin is 403", () => {
    for (const origin of ["http://evil.example", "http://127.0.0.1:6690", "https://127.0.0.1:6689", "null"])
      expect(checkOrigin(loopback, "127.0.0.1:6689", origin, false)?.status).toBe(403);
  });

  test("the origin must match the Host the request came in on, not just any allowed name", () => {
    expect(checkOrigin(loopback, "127.0.0.1:6689", "http://localhost:6689", false)?.status).toBe(403);
  });

  test("no Origin is refused with a cookie, allowed with a bearer token; a foreign one is refused even then", () => {
    expect(checkOrigin(loopback, "127.0.0.1:6689", null, false)?.message).toContain("no Origin header");
    expect(checkOrigin(loopback, "127.0.0.1:6689", null, true)).toBeNull();
    expect(checkOrigin(loopback, "127.0.0.1:6689", "http://evil.example", true)?.status).toBe(403);
  });
});

describe("headers", () => {
  test("CSP allows only the dashboard itself and its WebSocket, and forbids framing", () => {
    const h = securityHeaders(loopback, "127.0.0.1:6689");
    expect(h["Content-Security-Policy"]).toContain("default-src 'self'");
    expect(h["Content-Security-Policy"]).toContain("connect-src 'self' ws://127.0.0.1:6689");
    expect(h["Content-Security-Policy"]).toContain("frame-ancestors 'none'");
    expect(h["Content-Security-Policy"]).not.toContain("unsafe-inline");
    expect(h["X-Content-Type-Options"]).toBe("nosniff");
    expect(h["Referrer-Policy"]).toBe("no-referrer");
    expect(securityHeaders({ ...loopback, tls: true }, "127.0.0.1:6689")["Content-Security-Policy"]).toContain(
      "wss://127.0.0.1:6689",
    );
  });

  test("the session cookie is found among others by its exact name", () => {
    expect(cookieValue("a=1; crabtalk_dash_6689=xyz; b=2", "crabtalk_dash_6689")).toBe("xyz");
    expect(cookieValue("crabtalk_dash_66890=xyz", "crabtalk_dash_6689")).toBeNull();
    expect(cookieValue(null, "crabtalk_dash_6689")).toBeNull();
  });
});
