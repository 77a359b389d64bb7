/**
 * Builds the one self-contained crabtalk executable with `bun build --compile`.
 *
 *   bun scripts/build-binary.ts          # dist/crabtalk for this machine
 *   bun scripts/build-binary.ts --all    # dist/crabtalk-{linux,darwin}-{x64,arm64}
 *
 * Every binary gets a .sha256 file beside it. The version (package.json, or
 * $CRABTALK_VERSION) is injected at build time; the binary never autoloads a
 * stray bunfig.toml or .env from the directory it runs in.
 *
 * Cross targets need Bun's runtime for that platform. Bun would download it
 * from GitHub; instead we take it from the npm registry (the @oven/bun-*
 * packages, the same bytes), so the build works wherever npm does.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");
const version = process.env.CRABTALK_VERSION ?? pkg.version;

interface Target {
  name: string;
  bunTarget: Bun.Build.CompileTarget;
  npmPackage: string;
}

const TARGETS: Target[] = [
  { name: "linux-x64", bunTarget: "bun-linux-x64", npmPackage: "@oven/bun-linux-x64" },
  { name: "linux-arm64", bunTarget: "bun-linux-arm64", npmPackage: "@oven/bun-linux-aarch64" },
  { name: "darwin-x64", bunTarget: "bun-darwin-x64", npmPackage: "@oven/bun-darwin-x64" },
  { name: "darwin-arm64", bunTarget: "bun-darwin-arm64", npmPackage: "@oven/bun-darwin-aarch64" },
];

function hostTarget(): Target {
  const arch = process.arch === "arm64" ? "arm64" : "x64";
  const name = `${process.platform}-${arch}`;
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no build target for this machine (${name})`);
  return t;
}

/** Fetches Bun's runtime for a foreign target from the npm registry (cached under .tmp/). */
async function runtimeFor(target: Target): Promise<string> {
  const cache = join(root, ".tmp", "bun-runtimes", target.name);
  const binary = join(cache, "package", "bin", "bun");
  if (existsSync(binary)) return binary;
  mkdirSync(cache, { recursive: true });
  const packed = Bun.spawnSync(
    ["npm", "pack", `${target.npmPackage}@${Bun.version}`, "--silent", "--pack-destination", cache],
    { stderr: "inherit" },
  );
  if (packed.exitCode !== 0) throw new Error(`npm pack ${target.npmPackage}@${Bun.version} failed`);
  const tgz = readdirSync(cache).find((f) => f.endsWith(".tgz"));
  if (!tgz) throw new Error(`npm pack left no tarball in ${cache}`);
  const untar = Bun.spawnSync(["tar", "-xzf", join(cache, tgz), "-C", cache], { stderr: "inherit" });
  if (untar.exitCode !== 0 || !existsSync(binary)) throw new Error(`could not unpack Bun runtime for ${target.name}`);
  return binary;
}

export interface CompileOptions {
  entry: string;
  outfile: string;
  target?: Bun.Build.CompileTarget;
  executablePath?: string;
  define?: Record<string, string>;
  plugins?: Bun.BunPlugin[];
}

/**
 * Gives citty crabtalk's port of Node's parseArgs (src/cli/parse-args.ts)
 * instead of node:util, whose load costs every command ~1.1 ms for the one
 * function citty uses. Bun's bundler does not offer builtins like node:util
 * to onResolve under target "bun", so citty's module is loaded with its one
 * import line rewritten; if a citty upgrade changes that line, the build
 * fails here instead of silently keeping node:util. Only crabtalk's build
 * uses it: the floor program (bench/startup.ts) keeps citty as published,
 * which is what the floor stands for.
 */
export const cittyParser: Bun.BunPlugin = {
  name: "citty-parse-args",
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]citty[\\/]dist[\\/]index\.mjs$/ }, async (args) => {
      const source = await Bun.file(args.path).text();
      const line = 'import { parseArgs as parseArgs$1 } from "node:util";';
      if (!source.includes(line))
        throw new Error(`${args.path} no longer imports parseArgs from node:util as expected; update cittyParser`);
      const port = JSON.stringify(join(root, "src", "cli", "parse-args.ts"));
      return {
        contents: source.replace(line, () => `import { parseArgs as parseArgs$1 } from ${port};`),
        loader: "js",
      };
    });
  },
};

/**
 * The one way crabtalk compiles an executable; bench/startup.ts compiles its
 * floor program with it too (the same flags), so the start-up ratio compares
 * like with like. `plugins` is what crabtalk's own build adds (cittyParser).
 */
export async function compileExecutable(options: CompileOptions): Promise<void> {
  const result = await Bun.build({
    entrypoints: [options.entry],
    minify: true,
    sourcemap: "none",
    // Dynamic imports (the MCP SDK) become chunks kept inside the binary and parsed only on first use.
    splitting: true,
    format: "esm",
    bytecode: true,
    define: options.define ?? {},
    plugins: options.plugins ?? [],
    compile: {
      ...(options.target ? { target: options.target } : {}),
      outfile: options.outfile,
      autoloadBunfig: false,
      autoloadDotenv: false,
      ...(options.executablePath ? { executablePath: options.executablePath } : {}),
    },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`compiling ${options.entry} into ${options.outfile} failed`);
  }
  chmodSync(options.outfile, 0o755);
}

async function build(target: Target, outfile: string, cross: boolean): Promise<void> {
  const started = performance.now();
  await compileExecutable({
    entry: join(root, "src", "main.ts"),
    outfile,
    target: target.bunTarget,
    define: { CRABTALK_VERSION: JSON.stringify(version) },
    plugins: [cittyParser],
    ...(cross ? { executablePath: await runtimeFor(target) } : {}),
  });
  const digest = createHash("sha256").update(readFileSync(outfile)).digest("hex");
  writeFileSync(`${outfile}.sha256`, `${digest}  ${outfile.split("/").pop()}\n`);
  const mb = (readFileSync(outfile).byteLength / 1024 / 1024).toFixed(1);
  console.log(
    `built ${outfile} (${target.name}, crabtalk ${version}, ${mb} MB, ${Math.round(performance.now() - started)} ms)`,
  );
}

if (import.meta.main) {
  mkdirSync(dist, { recursive: true });
  if (process.argv.includes("--all")) {
    const host = hostTarget();
    for (const target of TARGETS) await build(target, join(dist, `crabtalk-${target.name}`), target.name !== host.name);
  } else {
    await build(hostTarget(), join(dist, "crabtalk"), false);
  }
}
