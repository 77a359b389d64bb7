/**
 * Builds the package into dist/ (run by `npm pack` through prepack, or
 * `bun build.ts`): one ESM bundle for Node >= 20 and Bun from src/index.ts
 * and the project's protocol and transport code it imports (protobufjs stays
 * a dependency), then type declarations by tsc. Fails when the bundle uses a
 * Bun-only API, since the package must run on plain Node.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const here = import.meta.dir;
const dist = join(here, "dist");
rmSync(dist, { recursive: true, force: true });

const result = await Bun.build({
  entrypoints: [join(here, "src", "index.ts")],
  outdir: dist,
  target: "node",
  format: "esm",
  external: ["protobufjs", "protobufjs/*"],
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  throw new Error("bundling sdk/typescript failed (see above)");
}
const bundle = readFileSync(join(dist, "index.js"), "utf8");
const bunApi = /\bBun\.[a-z]+\(|from "bun"/.exec(bundle);
if (bunApi) throw new Error(`dist/index.js uses a Bun-only API (${bunApi[0]}); the package must run on Node`);

const tsc = spawnSync(
  process.execPath,
  [require.resolve("typescript/bin/tsc"), "-p", join(here, "tsconfig.build.json")],
  {
    stdio: "inherit",
  },
);
if (tsc.status !== 0) throw new Error("tsc (declarations) failed");

// Declarations keep the sources' `.ts` import specifiers; consumers resolve `.js` to the `.d.ts`.
function rewrite(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) rewrite(path);
    else if (name.endsWith(".d.ts"))
      writeFileSync(path, readFileSync(path, "utf8").replace(/(from\s+"\.{1,2}\/[^"]*)\.ts"/g, '$1.js"'));
  }
}
rewrite(join(dist, "types"));
writeFileSync(join(dist, "index.d.ts"), 'export * from "./types/sdk/typescript/src/index.js";\n');
console.log(`built ${dist}: index.js (${(bundle.length / 1024).toFixed(0)} KB), declarations`);
