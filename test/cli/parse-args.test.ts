/**
 * src/cli/parse-args.ts against node:util's parseArgs, the function it
 * stands in for inside the compiled binary (see scripts/build-binary.ts's
 * cittyParser): the same answer, or the same refusal, for every argument
 * list citty could hand it. Also pins citty's call, so a citty upgrade that
 * asks the parser for more fails here.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs as nodeParseArgs } from "node:util";
import { type ParseArgsConfig, type ParseArgsOptionConfig, parseArgs } from "../../src/cli/parse-args.ts";

type Options = Record<string, ParseArgsOptionConfig>;

/** What a parse gave: its values and positionals, or that it threw. */
function outcome(parse: (config: ParseArgsConfig) => unknown, config: ParseArgsConfig): unknown {
  try {
    const { values, positionals } = parse(config) as { values: object; positionals: string[] };
    return { values: Object.entries(values), positionals, proto: Object.getPrototypeOf(values) };
  } catch {
    return "threw";
  }
}

function same(args: string[], options: Options | undefined): void {
  const config = { args, ...(options ? { options } : {}), allowPositionals: true, strict: false };
  const ours = outcome(parseArgs as (c: ParseArgsConfig) => unknown, structuredClone(config));
  const node = outcome(nodeParseArgs as (c: ParseArgsConfig) => unknown, structuredClone(config));
  if (!Bun.deepEquals(ours, node))
    throw new Error(`${JSON.stringify(config)}\nours: ${JSON.stringify(ours)}\nnode: ${JSON.stringify(node)}`);
}

/** Option sets shaped as citty builds them (strings, booleans, one-letter shorts, defaults, aliases as options). */
const OPTION_SETS: (Options | undefined)[] = [
  undefined,
  {},
  { json: { type: "boolean" }, agent: { type: "string", short: "a" }, session: { type: "string", short: "s" } },
  { follow: { type: "boolean", short: "f" }, lines: { type: "string", short: "n", default: "50" } },
  { level: { type: "string", default: "info" }, open: { type: "boolean", default: true }, x: { type: "boolean" } },
  { tag: { type: "string", multiple: true, short: "t" }, v: { type: "boolean", multiple: true } },
  { "dry-run": { type: "boolean" }, dryRun: { type: "boolean" }, f: { type: "string" } },
];

const WORDS = [
  "--json",
  "--json=false",
  "--json=1",
  "--agent",
  "--agent=",
  "--agent=x=y",
  "-a",
  "-ab",
  "-aval",
  "-s",
  "-s7",
  "--session",
  "-f",
  "-fn",
  "-fn5",
  "-nf",
  "-n",
  "-n5",
  "--lines",
  "--lines=9",
  "--follow",
  "--level",
  "--open",
  "--open=no",
  "-x",
  "-xa",
  "-t",
  "--tag",
  "-tt",
  "-v",
  "-vv",
  "--dry-run",
  "--dryRun",
  "--unknown",
  "--unknown=v",
  "-q",
  "-qz",
  "--",
  "-",
  "--=x",
  "-1",
  "--__proto__",
  "--__proto__=x",
  "--constructor",
  "hello",
  "two words",
  "--no-json",
  "",
];

describe("parseArgs port", () => {
  test("matches node:util on every pair of the vocabulary, under every option set", () => {
    let cases = 0;
    for (const options of OPTION_SETS)
      for (const a of WORDS)
        for (const b of WORDS) {
          same([a, b], options);
          cases++;
        }
    expect(cases).toBe(OPTION_SETS.length * WORDS.length ** 2);
  });

  test("matches node:util on longer random argument lists (seeded)", () => {
    let seed = 20;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 4000; i++) {
      const args = Array.from({ length: 1 + (next() % 6) }, () => WORDS[next() % WORDS.length]!);
      same(args, OPTION_SETS[next() % OPTION_SETS.length]);
    }
  });

  test("refuses the configs node:util refuses (citty then parses everything as positionals)", () => {
    const bad: Options[] = [
      { lines: { type: "string", default: 50 as unknown as string } },
      { open: { type: "boolean", default: "yes" } },
      { tag: { type: "string", multiple: true, default: "a" } },
      { a: { type: "string", short: "ab" } },
      { a: { type: "number" as "string" } },
    ];
    for (const options of bad) {
      same(["--lines", "5"], options);
      expect(outcome(parseArgs as (c: ParseArgsConfig) => unknown, { args: [], options, strict: false })).toBe("threw");
    }
  });

  test("refuses what it does not port, rather than parse it differently", () => {
    expect(() => parseArgs({ args: [] })).toThrow(/strict: false/);
    expect(() => parseArgs({ args: [], strict: false, tokens: true })).toThrow(/tokens/);
    expect(() => parseArgs({ args: [], strict: false, allowNegative: true })).toThrow(/allowNegative/);
  });

  test("citty still asks for exactly what the port gives (args, options, allowPositionals, strict: false)", () => {
    const citty = readFileSync(join(import.meta.dir, "..", "..", "node_modules", "citty", "dist", "index.mjs"), "utf8");
    // The line scripts/build-binary.ts rewrites, and the one call made through it.
    expect(citty).toContain('import { parseArgs as parseArgs$1 } from "node:util";');
    const calls = citty.match(/parseArgs\$1\(\{[^}]*\}\)/g) ?? [];
    expect(calls.length).toBe(1);
    expect(calls[0]!.replace(/\s+/g, " ")).toBe(
      "parseArgs$1({ args: processedArgs, options: Object.keys(options).length > 0 ? options : void 0, allowPositionals: true, strict: false })",
    );
  });
});
