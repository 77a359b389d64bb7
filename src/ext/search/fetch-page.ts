/**
 * web_fetch's HTTP side: GET a model-chosen URL under the address policy,
 * following redirects by hand so every hop is checked (fetch's own
 * redirect following would dial the next host unchecked), and read at most
 * a bounded number of bytes.
 */
import { ToolFailure } from "../sdk/index.ts";
import { checkedTarget } from "./address-policy.ts";
import type { SearchConfig } from "./config.ts";

/** Hops before giving up; browsers allow 20, but a chain past 5 is almost always a loop or a trap. */
const MAX_REDIRECTS = 5;
/**
 * Bytes read from one response. HTML is mostly markup, so the text wanted
 * (at most FETCH_MAX_BYTES_CAP) needs several times that in page; past
 * this the rest of the page is not read.
 */
const MAX_DOWNLOAD_BYTES = 5 * 1024 * 1024;

export interface Fetched {
  /** The URL that answered, after redirects. */
  url: string;
  status: number;
  contentType: string;
  body: Uint8Array;
  /** The body was longer than what was read. */
  truncated: boolean;
}

export async function fetchPage(raw: string, config: SearchConfig, signal: AbortSignal): Promise<Fetched> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ToolFailure(`${JSON.stringify(raw)} is not a URL; give an absolute http(s) URL`);
  }
  for (let hop = 0; ; hop++) {
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new ToolFailure(
        `refused ${url.href}: web_fetch fetches http and https URLs only${hop ? " (a redirect led there)" : ""}`,
      );
    if (url.username || url.password)
      throw new ToolFailure(`refused ${url.href}: URLs with credentials are not fetched`);
    const target = await checkedTarget(url, config);
    const response = await dial(url, target.address, target.family, config, signal);
    if ([301, 302, 303, 307, 308].includes(response.status)) {
      const location = response.headers.get("location");
      await response.body?.cancel().catch(() => {});
      if (!location) throw new ToolFailure(`${url.href} answered ${response.status} without a Location`);
      if (hop >= MAX_REDIRECTS) throw new ToolFailure(`${raw} redirected more than ${MAX_REDIRECTS} times; gave up`);
      url = new URL(location, url);
      continue;
    }
    const { body, truncated } = await readCapped(response, MAX_DOWNLOAD_BYTES);
    return {
      url: url.href,
      status: response.status,
      contentType: response.headers.get("content-type") ?? "",
      body,
      truncated,
    };
  }
}

/** One request to the checked address, with the URL's own name for Host and TLS. */
async function dial(url: URL, address: string, family: 4 | 6, config: SearchConfig, signal: AbortSignal) {
  const pinned = new URL(url.href);
  pinned.hostname = family === 6 ? `[${address}]` : address;
  const named = !/^[\d.]+$|^\[/.test(url.hostname);
  try {
    return await fetch(pinned, {
      redirect: "manual",
      signal,
      headers: {
        Host: url.host,
        "User-Agent": config.userAgent,
        Accept: "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5",
      },
      // TLS checks the certificate against the URL's name, not the pinned address.
      ...(url.protocol === "https:" && named ? { tls: { serverName: url.hostname } } : {}),
    });
  } catch (err) {
    if (signal.aborted) throw new ToolFailure(`fetching ${url.href} took too long or was cancelled`);
    throw new ToolFailure(`fetching ${url.href} failed: ${(err as Error).message}`);
  }
}

export async function readCapped(response: Response, cap: number): Promise<{ body: Uint8Array; truncated: boolean }> {
  const reader = response.body?.getReader();
  if (!reader) return { body: new Uint8Array(), truncated: false };
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (size + value.byteLength > cap) {
      chunks.push(value.subarray(0, cap - size));
      size = cap;
      truncated = true;
      await reader.cancel().catch(() => {});
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return { body, truncated };
}

/** The body as text, in the charset the response declares (UTF-8 when none or unknown). */
export function decodeBody(body: Uint8Array, contentType: string): string {
  const charset = /charset=["']?([\w-]+)/i.exec(contentType)?.[1] ?? "utf-8";
  try {
    return new TextDecoder(charset as ConstructorParameters<typeof TextDecoder>[0]).decode(body);
  } catch {
    return new TextDecoder().decode(body);
  }
}
