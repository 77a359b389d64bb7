/**
 * The three search backends, each turned into the same SearchResult list:
 * - DuckDuckGo's HTML endpoint (no key): POST q= to html.duckduckgo.com/html/,
 *   a result page (ddg-parse.ts);
 * - SearXNG (self-hosted): GET /search?q=&format=json, `results[]` with
 *   url, title, content (the instance must allow the json format);
 * - Brave's Web Search API: GET ?q=&count= with X-Subscription-Token,
 *   `web.results[]` with url, title, description (HTML-marked).
 * test/fixtures/search/README.md describes the page shapes the tests replay.
 */
import { ToolFailure } from "../sdk/index.ts";
import type { SearchConfig } from "./config.ts";
import { parseDuckDuckGo, type SearchResult } from "./ddg-parse.ts";
import { readCapped, decodeBody } from "./fetch-page.ts";
import { decodeEntities, stripTags } from "./html-text.ts";

/** A result page larger than this is not a result page. */
const MAX_RESULT_PAGE_BYTES = 4 * 1024 * 1024;

export async function search(
  query: string,
  count: number,
  config: SearchConfig,
  signal: AbortSignal,
): Promise<SearchResult[]> {
  switch (config.backend) {
    case "duckduckgo":
      return duckduckgo(query, count, config, signal);
    case "searxng":
      return searxng(query, count, config, signal);
    case "brave":
      return brave(query, count, config, signal);
  }
}

async function request(what: string, url: string, init: RequestInit, signal: AbortSignal): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal, redirect: "follow" });
  } catch (err) {
    if (signal.aborted) throw new ToolFailure(`${what} took too long or was cancelled`);
    throw new ToolFailure(`${what} is unreachable at ${url}: ${(err as Error).message}`);
  }
  const { body } = await readCapped(response, MAX_RESULT_PAGE_BYTES);
  const text = decodeBody(body, response.headers.get("content-type") ?? "");
  if (!response.ok) throw new ToolFailure(`${what} answered ${response.status}${hint(what, response.status, text)}`);
  return text;
}

function hint(what: string, status: number, body: string): string {
  if (what.startsWith("SearXNG") && status === 403)
    return ": the instance refuses format=json; add json to search.formats in its settings.yml";
  if (what.startsWith("Brave") && (status === 401 || status === 403))
    return ": the API key was refused; check api_key in [services.search] config";
  if (status === 429) return ": rate limited; try again later";
  const detail = clip(stripTags(body).replace(/\s+/g, " ").trim(), 200);
  return detail ? `: ${detail}` : "";
}

async function duckduckgo(query: string, count: number, config: SearchConfig, signal: AbortSignal) {
  const html = await request(
    "DuckDuckGo",
    config.baseUrl,
    {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "User-Agent": config.userAgent },
      body: new URLSearchParams({ q: query, b: "" }).toString(),
    },
    signal,
  );
  const results = parseDuckDuckGo(html, config.baseUrl);
  if (results.length === 0 && /anomaly|captcha|unusual traffic/i.test(html))
    throw new ToolFailure(
      "DuckDuckGo answered with a bot check instead of results; try again later or use another backend",
    );
  return results.slice(0, count);
}

async function searxng(query: string, count: number, config: SearchConfig, signal: AbortSignal) {
  const url = new URL(config.baseUrl);
  if (!url.pathname.endsWith("/search")) url.pathname = `${url.pathname.replace(/\/$/, "")}/search`;
  url.searchParams.set("q", query);
  url.searchParams.set("format", "json");
  const body = await request(
    "SearXNG",
    url.href,
    { headers: { Accept: "application/json", "User-Agent": config.userAgent } },
    signal,
  );
  const data = parseJson(body, "SearXNG") as { results?: { url?: string; title?: string; content?: string }[] };
  return (data.results ?? [])
    .filter((r) => typeof r.url === "string")
    .slice(0, count)
    .map((r) => ({ title: text(r.title ?? ""), url: r.url!, snippet: text(r.content ?? "") }));
}

async function brave(query: string, count: number, config: SearchConfig, signal: AbortSignal) {
  const url = new URL(config.baseUrl);
  url.searchParams.set("q", query);
  url.searchParams.set("count", String(count));
  const body = await request(
    "Brave Search",
    url.href,
    { headers: { Accept: "application/json", "X-Subscription-Token": config.apiKey, "User-Agent": config.userAgent } },
    signal,
  );
  const data = parseJson(body, "Brave Search") as {
    web?: { results?: { url?: string; title?: string; description?: string }[] };
  };
  return (data.web?.results ?? [])
    .filter((r) => typeof r.url === "string")
    .slice(0, count)
    .map((r) => ({ title: text(r.title ?? ""), url: r.url!, snippet: text(r.description ?? "") }));
}

function parseJson(body: string, what: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new ToolFailure(`${what} answered something that is not JSON: ${clip(body, 120)}`);
  }
}

function text(html: string): string {
  return decodeEntities(stripTags(html)).replace(/\s+/g, " ").trim();
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
