/**
 * Serving the dashboard's built-in files (src/web/assets.ts): prepared once
 * at start-up with an ETag and, for text worth compressing, a gzip copy.
 *
 * Caching: a file whose name carries a content hash ("app-3f9a1c2b.js")
 * never changes under that name, so it is cached for a year, immutable;
 * index.html names the current hashes, so it is never stored (no-store) and
 * a new binary's page is picked up at once; anything else revalidates
 * (no-cache, answered 304 by ETag).
 */
import { createHash } from "node:crypto";
import type { WebAsset } from "../../web/assets.ts";

/** Below this, gzip's header costs more than it saves. */
const GZIP_MIN_BYTES = 1024;
/** A hash-like part in a file name: eight or more hex or base36 characters before the extension. */
const HASHED = /[.-][0-9a-z]{8,}\.[a-z0-9]+$/i;

interface Prepared {
  asset: WebAsset;
  etag: string;
  gzip: Uint8Array | null;
  cacheControl: string;
}

function compressible(contentType: string): boolean {
  return /^(text\/|application\/(javascript|json|wasm|xml)|image\/svg)/.test(contentType);
}

function cacheControlOf(path: string): string {
  if (path === "/index.html") return "no-store";
  if (HASHED.test(path)) return "public, max-age=31536000, immutable";
  return "no-cache";
}

export class StaticFiles {
  private readonly files = new Map<string, Prepared>();

  constructor(assets: ReadonlyMap<string, WebAsset>) {
    for (const [path, asset] of assets) {
      const gz = asset.body.byteLength >= GZIP_MIN_BYTES && compressible(asset.contentType);
      this.files.set(path, {
        asset,
        etag: `"${createHash("sha256").update(asset.body).digest("base64url").slice(0, 22)}"`,
        gzip: gz ? Bun.gzipSync(new Uint8Array(asset.body)) : null,
        cacheControl: cacheControlOf(path),
      });
    }
  }

  /** The path a URL path serves: "/" is "/index.html". */
  static resolve(pathname: string): string {
    return pathname === "/" ? "/index.html" : pathname;
  }

  has(path: string): boolean {
    return this.files.has(path);
  }

  /** The response for a known path (undefined otherwise), honouring If-None-Match and Accept-Encoding. */
  respond(path: string, req: Request, headers: Record<string, string>): Response | undefined {
    const file = this.files.get(path);
    if (!file) return undefined;
    const common: Record<string, string> = {
      ...headers,
      "Cache-Control": file.cacheControl,
      ETag: file.etag,
      Vary: "Accept-Encoding, Cookie",
    };
    if (req.headers.get("if-none-match") === file.etag) return new Response(null, { status: 304, headers: common });
    const gzip = file.gzip && /\bgzip\b/.test(req.headers.get("accept-encoding") ?? "") ? file.gzip : null;
    const body = gzip ?? file.asset.body;
    return new Response(req.method === "HEAD" ? null : body, {
      headers: {
        ...common,
        "Content-Type": file.asset.contentType,
        "Content-Length": String(body.byteLength),
        ...(gzip ? { "Content-Encoding": "gzip" } : {}),
      },
    });
  }
}
