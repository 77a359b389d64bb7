/**
 * The dashboard's static files, as the daemon's HTTP server serves them.
 *
 * Contract between the server (src/daemon/http/) and the UI (src/web/): the
 * server asks for the asset map once and serves each path with its content
 * type; "/" serves "/index.html". The assets are built into the binary (no
 * CDN, works offline). This first version is the bootstrap page only; the UI
 * build replaces the body of this module, never its signature.
 */
export interface WebAsset {
  /** URL path, e.g. "/index.html" or "/app.js". */
  path: string;
  contentType: string;
  body: Uint8Array;
}

const INDEX_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>crabtalk</title></head><body><main id="app">crabtalk dashboard</main></body></html>
`;

export async function webAssets(): Promise<ReadonlyMap<string, WebAsset>> {
  const encoder = new TextEncoder();
  const index: WebAsset = {
    path: "/index.html",
    contentType: "text/html; charset=utf-8",
    body: encoder.encode(INDEX_HTML),
  };
  return new Map([[index.path, index]]);
}
