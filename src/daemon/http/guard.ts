/**
 * The dashboard's request checks, as pure functions (unit-tested without a
 * server):
 *
 * - Host: a page on another name that resolves to this machine (DNS
 *   rebinding) would otherwise be same-origin with the dashboard. Only the
 *   configured HOST:PORT is answered, plus localhost / 127.0.0.1 / [::1] on
 *   the same port when the bind is loopback; anything else is 421.
 * - Origin: a state-changing request (anything but GET/HEAD) and the
 *   WebSocket upgrade that carry the session cookie must come from the
 *   dashboard's own origin (CSRF, cross-site WebSocket hijacking); a browser
 *   always sends Origin on both. A request authenticated by a bearer token
 *   carries no ambient credential, so a script may omit Origin; a foreign
 *   Origin is refused all the same.
 * - Security headers on every response (CSP without inline scripts, no
 *   framing, no sniffing, no referrer).
 */
import { isLoopbackHost } from "../../config/daemon.ts";

export interface Site {
  /** The configured bind host ("127.0.0.1", "::1", "dash.example"). */
  host: string;
  /** The bound port (the real one when the configuration said 0). */
  port: number;
  tls: boolean;
}

/** "host:port" the way it appears in a Host header or an origin (IPv6 in brackets). */
function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}

/** Every Host header value this dashboard answers to, lower-cased. */
export function allowedHosts(site: Site): Set<string> {
  const names = [site.host.toLowerCase()];
  // A wildcard bind is reachable (and printed) as loopback too; other names it answers to must be configured.
  if (isLoopbackHost(site.host) || isWildcard(site.host)) names.push("localhost", "127.0.0.1", "::1");
  const out = new Set<string>();
  const defaultPort = site.tls ? 443 : 80;
  for (const name of names) {
    out.add(hostPort(name, site.port));
    // Browsers leave the port out of Host and Origin when it is the scheme's default.
    if (site.port === defaultPort) out.add(name.includes(":") ? `[${name}]` : name);
  }
  return out;
}

/** The address to print and open: the configured host (a wildcard bind is named by its loopback twin). */
export function siteUrl(site: Site): string {
  const host = isWildcard(site.host) ? "127.0.0.1" : site.host;
  return `${site.tls ? "https" : "http"}://${hostPort(host, site.port)}`;
}

export type Refusal = { status: number; message: string };

/** Null when the Host header names this dashboard; else 421 with what it answers to. */
export function checkHost(site: Site, hostHeader: string | null): Refusal | null {
  const host = (hostHeader ?? "").trim().toLowerCase();
  if (allowedHosts(site).has(host)) return null;
  return {
    status: 421,
    message: `this crabtalk dashboard answers only to ${siteUrl(site)}${isLoopbackHost(site.host) ? " (or localhost on the same port)" : ""}, not to host "${hostHeader ?? ""}". Open that address instead, or set [daemon] http to the address you open.`,
  };
}

/** Methods that never change state (the only ones served without an Origin check). */
export function isSafeMethod(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

/**
 * Null when `origin` is the dashboard's own origin for this request's
 * (already checked) Host. `bearer`: the request carries its own token, so a
 * missing Origin is a script, not a forged browser request.
 */
export function checkOrigin(
  site: Site,
  hostHeader: string | null,
  origin: string | null,
  bearer: boolean,
): Refusal | null {
  if (origin === null && bearer) return null;
  const own = `${site.tls ? "https" : "http"}://${(hostHeader ?? "").trim().toLowerCase()}`;
  if (origin !== null && origin.trim().toLowerCase() === own) return null;
  return {
    status: 403,
    message:
      origin === null
        ? "this request carries no Origin header; the dashboard accepts state-changing requests and WebSockets only from its own pages (scripts: send Authorization: Bearer <token>)"
        : `origin "${origin}" is not this dashboard (${own}); requests from other sites are refused`,
  };
}

/**
 * Headers on every response, refusals and failures included. `host` (already
 * checked) lets connect-src name the WebSocket for browsers whose 'self' does
 * not cover ws:; a response sent before the Host header is trusted (421, a
 * failure) names the dashboard's own address instead.
 */
export function securityHeaders(site: Site, host: string = new URL(siteUrl(site)).host): Record<string, string> {
  const ws = `${site.tls ? "wss" : "ws"}://${host}`;
  return {
    "Content-Security-Policy": `default-src 'self'; connect-src 'self' ${ws}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'`,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
  };
}
