/**
 * The search extension's configuration: the `config` table of
 * `[services.search]`, sent by the daemon in ExtConfigure. Every key is
 * checked; a wrong one refuses the whole config with the key and the fix
 * (the daemon shows it in the service's status and log).
 *
 *   backend        "duckduckgo" (default) | "searxng" | "brave"
 *   base_url       the backend's endpoint (defaults below; SearXNG: $SEARXNG_URL)
 *   api_key        Brave's subscription token (default: $BRAVE_API_KEY)
 *   max_results    results per search when the model asks for none (default 5, at most 20)
 *   timeout_ms     per search and per fetch (default 15000)
 *   fetch_max_bytes  text web_fetch returns when the model asks for no size (default 50000)
 *   allow_private  web_fetch may reach private, loopback and link-local addresses (default false)
 *   allow_hosts    host names (or IP literals) web_fetch may reach even when they are private
 *   resolve        { "host" = "IP" }: fixed addresses for names, like curl --resolve
 *   user_agent     the User-Agent of every request
 *
 * The backend's own address is the operator's choice (a SearXNG on
 * localhost is the usual setup), so only web_fetch, whose URLs come from
 * the model, is held to the private-address rule.
 */
import type { JsonObject } from "../sdk/index.ts";

export type Backend = "duckduckgo" | "searxng" | "brave";

export interface SearchConfig {
  backend: Backend;
  baseUrl: string;
  apiKey: string;
  maxResults: number;
  timeoutMs: number;
  fetchMaxBytes: number;
  allowPrivate: boolean;
  allowHosts: string[];
  resolve: Record<string, string>;
  userAgent: string;
}

export const MAX_RESULTS_CAP = 20;
/** web_fetch returns at most this much text, whatever the model asks: 1 MB is far past any useful context. */
export const FETCH_MAX_BYTES_CAP = 1_000_000;

const DEFAULT_BASE: Record<Backend, string> = {
  duckduckgo: "https://html.duckduckgo.com/html/",
  searxng: "",
  brave: "https://api.search.brave.com/res/v1/web/search",
};

const KEYS = [
  "backend",
  "base_url",
  "api_key",
  "max_results",
  "timeout_ms",
  "fetch_max_bytes",
  "allow_private",
  "allow_hosts",
  "resolve",
  "user_agent",
];

export class SearchConfigError extends Error {
  constructor(key: string, problem: string, fix: string) {
    super(`[services.search] config.${key}: ${problem}; ${fix}`);
    this.name = "SearchConfigError";
  }
}

export function parseSearchConfig(raw: JsonObject, env: Record<string, string | undefined>): SearchConfig {
  for (const key of Object.keys(raw))
    if (!KEYS.includes(key)) throw new SearchConfigError(key, "unknown key", `use one of ${KEYS.join(", ")}`);
  const backend = raw.backend ?? "duckduckgo";
  if (backend !== "duckduckgo" && backend !== "searxng" && backend !== "brave")
    throw new SearchConfigError(
      "backend",
      `${JSON.stringify(backend)} is not a backend`,
      'use "duckduckgo", "searxng" or "brave"',
    );
  const baseUrl =
    str(raw, "base_url") ?? (backend === "searxng" ? env.SEARXNG_URL : undefined) ?? DEFAULT_BASE[backend];
  if (!baseUrl)
    throw new SearchConfigError(
      "base_url",
      "SearXNG needs its address",
      'set base_url = "http://HOST:PORT" (or SEARXNG_URL in the service\'s env)',
    );
  if (!/^https?:\/\//.test(baseUrl) || !URL.canParse(baseUrl))
    throw new SearchConfigError("base_url", `${JSON.stringify(baseUrl)} is not an http(s) URL`, "give the full URL");
  const apiKey = str(raw, "api_key") ?? (backend === "brave" ? env.BRAVE_API_KEY : undefined) ?? "";
  if (backend === "brave" && !apiKey)
    throw new SearchConfigError(
      "api_key",
      "Brave's API needs a subscription token",
      'set api_key = "${BRAVE_API_KEY}" or BRAVE_API_KEY in the service\'s env',
    );
  const allowHosts = raw.allow_hosts ?? [];
  if (!Array.isArray(allowHosts) || !allowHosts.every((h) => typeof h === "string"))
    throw new SearchConfigError("allow_hosts", "must be a list of host names", 'e.g. allow_hosts = ["wiki.internal"]');
  const resolve = raw.resolve ?? {};
  if (typeof resolve !== "object" || resolve === null || Array.isArray(resolve))
    throw new SearchConfigError(
      "resolve",
      "must be a table of host = IP",
      'e.g. resolve = { "wiki.internal" = "10.0.0.5" }',
    );
  for (const [host, ip] of Object.entries(resolve))
    if (typeof ip !== "string" || !isIp(ip))
      throw new SearchConfigError(
        `resolve.${host}`,
        `${JSON.stringify(ip)} is not an IP address`,
        "give an IPv4 or IPv6 address",
      );
  return {
    backend,
    baseUrl,
    apiKey,
    maxResults: int(raw, "max_results", 5, 1, MAX_RESULTS_CAP),
    timeoutMs: int(raw, "timeout_ms", 15_000, 100, 600_000),
    fetchMaxBytes: int(raw, "fetch_max_bytes", 50_000, 100, FETCH_MAX_BYTES_CAP),
    allowPrivate: bool(raw, "allow_private", false),
    allowHosts: (allowHosts as string[]).map((h) => h.toLowerCase()),
    resolve: Object.fromEntries(Object.entries(resolve).map(([h, ip]) => [h.toLowerCase(), String(ip)])),
    userAgent: str(raw, "user_agent") ?? "Mozilla/5.0 (compatible; crabtalk-search/1.0)",
  };
}

function str(raw: JsonObject, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new SearchConfigError(key, `must be a string, got ${JSON.stringify(v)}`, "quote it");
  return v;
}

function int(raw: JsonObject, key: string, fallback: number, min: number, max: number): number {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new SearchConfigError(
      key,
      `${JSON.stringify(v)} is out of range`,
      `give a whole number from ${min} to ${max}`,
    );
  return v;
}

function bool(raw: JsonObject, key: string, fallback: boolean): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean")
    throw new SearchConfigError(
      key,
      `must be true or false, got ${JSON.stringify(v)}`,
      "write true or false, unquoted",
    );
  return v;
}

export function isIp(text: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(text) || (text.includes(":") && /^[0-9a-f:.]+$/i.test(text));
}
