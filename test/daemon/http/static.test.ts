/**
 * Serving the dashboard's files (src/daemon/http/static.ts): content types,
 * gzip only when the client accepts it, ETag revalidation, and the cache
 * rule (hashed names immutable, index.html never stored).
 */
import { describe, expect, test } from "bun:test";
import { StaticFiles } from "../../../src/daemon/http/static.ts";
import type { WebAsset } from "../../../src/web/assets.ts";

const encoder = new TextEncoder();
const script = "console.log('crab');\n".repeat(200);

function asset(path: string, contentType: string, text: string): [string, WebAsset] {
  return [path, { path, contentType, body: encoder.encode(text) }];
}

const files = new StaticFiles(
  new Map([
    asset("/index.html", "text/html; charset=utf-8", "<!doctype html><title>crabtalk</title>"),
    asset("/app-3f9a1c2b.js", "text/javascript; charset=utf-8", script),
    asset("/icon.png", "image/png", "\u0089PNG not really, but larger than the gzip threshold ".repeat(40)),
  ]),
);

function get(path: string, headers: Record<string, string> = {}): Response {
  const res = files.respond(path, new Request(`http://127.0.0.1:6689${path}`, { headers }), { "X-Test": "1" });
  if (!res) throw new Error(`${path} not served`);
  return res;
}

describe("static files", () => {
  test('"/" is index.html, never stored by the browser', async () => {
    expect(StaticFiles.resolve("/")).toBe("/index.html");
    const res = get("/index.html");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("x-test")).toBe("1");
    expect(await res.text()).toContain("<title>crabtalk</title>");
  });

  test("a hashed file is immutable for a year; gzip only when accepted, and it decodes to the same bytes", async () => {
    const plain = get("/app-3f9a1c2b.js");
    expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(await plain.text()).toBe(script);
    const zipped = get("/app-3f9a1c2b.js", { "Accept-Encoding": "gzip, deflate, br" });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    const bytes = new Uint8Array(await zipped.arrayBuffer());
    expect(Number(zipped.headers.get("content-length"))).toBe(bytes.byteLength);
    expect(bytes.byteLength).toBeLessThan(script.length / 10);
    expect(new TextDecoder().decode(Bun.gunzipSync(bytes))).toBe(script);
  });

  test("images are not gzipped; unhashed names revalidate; a matching ETag answers 304 with no body", async () => {
    const png = get("/icon.png", { "Accept-Encoding": "gzip" });
    expect(png.headers.get("content-encoding")).toBeNull();
    expect(png.headers.get("cache-control")).toBe("no-cache");
    const etag = png.headers.get("etag")!;
    const again = get("/icon.png", { "If-None-Match": etag });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
  });

  test("an unknown path is not served", () => {
    expect(files.respond("/secret", new Request("http://127.0.0.1:6689/secret"), {})).toBeUndefined();
  });
});
