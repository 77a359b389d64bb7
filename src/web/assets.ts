/**
 * The dashboard's static files, as the daemon's HTTP server serves them.
 *
 * Contract between the server (src/daemon/http/) and the UI (src/web/): the
 * server asks for the asset map once and serves each path with its content
 * type; "/" serves "/index.html". The assets are built into the binary (no
 * CDN, works offline): scripts/build-web.ts bundles src/web/ui into the
 * generated module gen/assets.gen.ts (index.html, then the content-hashed
 * script and stylesheet it names), and this module serves those.
 */
import { GENERATED_FILES } from "./gen/assets.gen.ts";

export interface WebAsset {
  /** URL path, e.g. "/index.html" or "/app.js". */
  path: string;
  contentType: string;
  body: Uint8Array;
}

export async function webAssets(): Promise<ReadonlyMap<string, WebAsset>> {
  const encoder = new TextEncoder();
  return new Map(
    GENERATED_FILES.map((f) => [f.path, { path: f.path, contentType: f.contentType, body: encoder.encode(f.text) }]),
  );
}
