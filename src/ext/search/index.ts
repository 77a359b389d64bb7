/**
 * The official search extension, `crabtalk search`: web_search and
 * web_fetch as an SDK extension. The daemon runs it as its own process
 * (`[services.search] command = "crabtalk" args = ["search"]`), so a hung
 * backend or a huge page costs this process, never the daemon.
 * Only src/cli/search.ts loads this module, and lazily: the daemon's own
 * start path never does.
 */
import { defineExtension, type Extension, type JsonObject, ToolFailure } from "../sdk/index.ts";
import { search } from "./backends.ts";
import { FETCH_MAX_BYTES_CAP, MAX_RESULTS_CAP, parseSearchConfig, type SearchConfig } from "./config.ts";
import { decodeBody, fetchPage } from "./fetch-page.ts";
import { htmlToText } from "./html-text.ts";

export function searchExtension(version: string, env: Record<string, string | undefined> = process.env): Extension {
  let config: SearchConfig = parseSearchConfig({}, env);
  const timeout = (signal: AbortSignal) => AbortSignal.any([signal, AbortSignal.timeout(config.timeoutMs)]);

  return defineExtension({
    name: "search",
    version,
    configure(raw: JsonObject) {
      config = parseSearchConfig(raw, env);
    },
    tools: [
      {
        name: "web_search",
        description:
          "Search the web. Returns numbered results, each with its title, URL and a snippet; read a page with web_fetch.",
        parameters: {
          type: "object",
          properties: {
            query: { type: "string", minLength: 1, description: "What to search for." },
            max_results: {
              type: "integer",
              minimum: 1,
              maximum: MAX_RESULTS_CAP,
              description: "How many results (default set by the operator, usually 5).",
            },
          },
          required: ["query"],
          additionalProperties: false,
        },
        async handler(args, ctx) {
          const query = String(args.query ?? "").trim();
          if (!query) throw new ToolFailure("web_search needs a non-empty query");
          const count = clampInt(args.max_results, config.maxResults, MAX_RESULTS_CAP);
          const results = await search(query, count, config, timeout(ctx.signal));
          if (results.length === 0) return `No results for ${JSON.stringify(query)}.`;
          return results
            .map((r, i) => `${i + 1}. ${r.title || r.url}\n   ${r.url}${r.snippet ? `\n   ${r.snippet}` : ""}`)
            .join("\n\n");
        },
      },
      {
        name: "web_fetch",
        description:
          "Fetch a web page (http or https) and return its readable text: title, then the main content without scripts, navigation or markup. Long pages are cut at max_bytes.",
        parameters: {
          type: "object",
          properties: {
            url: { type: "string", minLength: 1, description: "The absolute http(s) URL." },
            max_bytes: {
              type: "integer",
              minimum: 100,
              maximum: FETCH_MAX_BYTES_CAP,
              description: "At most this many bytes of text (default set by the operator, usually 50000).",
            },
          },
          required: ["url"],
          additionalProperties: false,
        },
        async handler(args, ctx) {
          const maxBytes = clampInt(args.max_bytes, config.fetchMaxBytes, FETCH_MAX_BYTES_CAP);
          const page = await fetchPage(String(args.url ?? ""), config, timeout(ctx.signal));
          const type = page.contentType.split(";")[0]!.trim().toLowerCase();
          const isHtml = type === "text/html" || type === "application/xhtml+xml";
          const isText = isHtml || type === "" || type.startsWith("text/") || /json|xml|javascript/.test(type);
          if (!isText)
            throw new ToolFailure(
              `${page.url} is ${type} (${page.body.byteLength} bytes); web_fetch returns text and HTML pages only`,
            );
          const raw = decodeBody(page.body, page.contentType);
          const { title, text } = isHtml ? htmlToText(raw) : { title: "", text: raw };
          const { head, cut } = capUtf8(text, maxBytes);
          const lines = [
            title ? `Title: ${title}` : "",
            `URL: ${page.url}`,
            page.status >= 400 ? `Status: ${page.status}` : "",
          ].filter(Boolean);
          const note = cut
            ? `\n\n[cut at ${maxBytes} bytes of ${Buffer.byteLength(text)}; pass a larger max_bytes (up to ${FETCH_MAX_BYTES_CAP}) for more]`
            : page.truncated
              ? "\n\n[the page was longer than web_fetch reads; this is its beginning]"
              : "";
          return `${lines.join("\n")}\n\n${head}${note}`;
        },
      },
    ],
  });
}

function clampInt(value: unknown, fallback: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value)) return fallback;
  return Math.max(1, Math.min(max, Math.floor(value)));
}

/** The longest prefix of `text` within `max` UTF-8 bytes, never splitting a character. */
function capUtf8(text: string, max: number): { head: string; cut: boolean } {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= max) return { head: text, cut: false };
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return { head: new TextDecoder().decode(bytes.subarray(0, end)), cut: true };
}
