/**
 * The dashboard built into the binary: src/web/gen/assets.gen.ts matches a
 * fresh build of src/web/ui (nobody edited it by hand, nobody forgot
 * `npm run build:web`), the page names the hashed script and stylesheet it
 * is served with, the bundle needs no eval (the CSP forbids it) and no node
 * module, and the initial page stays under its 200 KB gzipped budget.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { buildWeb, GENERATED, moduleSource } from "../../scripts/build-web.ts";
import { webAssets } from "../../src/web/assets.ts";

test("src/web/gen/assets.gen.ts is up to date with src/web/ui (else: npm run build:web)", async () => {
  const fresh = moduleSource(await buildWeb());
  const current = readFileSync(GENERATED, "utf8");
  if (current !== fresh) throw new Error("src/web/gen/assets.gen.ts is stale: run npm run build:web and commit it");
  expect(current).toBe(fresh);
});

test("index.html names the served script and stylesheet; the bundle has no eval and no node modules", async () => {
  const assets = await webAssets();
  const html = new TextDecoder().decode(assets.get("/index.html")!.body);
  const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
  expect(refs.length).toBe(3);
  for (const ref of refs) {
    expect(ref).toMatch(/-[0-9a-f]{12}\.(js|css|svg)$/);
    expect(assets.has(ref)).toBe(true);
  }
  expect(html).not.toMatch(/<script>|style="/);
  const js = [...assets.values()].find((a) => a.path.endsWith(".js"))!;
  const text = new TextDecoder().decode(js.body);
  expect(text).not.toMatch(/\bnew Function\b|\bFunction\(|\beval\(/);
  expect(text).not.toMatch(/from"node:|require\("node:/);
});

test("the initial page (html + js + css) is under 200 KB gzipped", async () => {
  const assets = await webAssets();
  let gzipped = 0;
  for (const a of assets.values()) gzipped += Bun.gzipSync(new Uint8Array(a.body)).byteLength;
  expect(gzipped).toBeLessThan(200 * 1024);
});
