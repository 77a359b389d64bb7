/**
 * No drift between the docs and the code: every ```toml block of the README
 * and docs/build-a-client.md, and the default crabtalk.toml the daemon writes
 * (for each provider it can pick), is validated by the real config parser;
 * every command of the README's command table exists in the compiled binary.
 *
 * The rules, kept strict on purpose:
 * - A doc block is validated on its own, with every ${VAR} it names set to a
 *   placeholder and the compiled binary's folder on PATH (`command =
 *   "crabtalk"`). A block that shows one section and leans on the reader's
 *   config for the rest (a delegation example naming agents defined
 *   elsewhere) must be listed in CONTEXT, keyed by its first line, with the
 *   smallest TOML that completes it; a CONTEXT entry whose block is gone
 *   fails too, so the list cannot rot.
 * - In the default config, a commented example is a run of `# ` lines that
 *   starts with a `# [table]` line; each run is uncommented and the whole
 *   file (active part plus every example) must parse. Prose belongs above
 *   the `# [table]` line, never inside a run.
 * - A block whose first line is `# $CRABTALK_HOME/crons.toml` or
 *   `# $CRABTALK_HOME/events.toml` is validated by that file's parser instead.
 * - A README command exists when `crabtalk <words> --help` exits 0 and its
 *   USAGE line names those words (the CLI prints the top-level usage, with
 *   exit 0, for an unknown command, so the exit code alone proves nothing).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { defaultConfig } from "../../src/config/default-config.ts";
import { parseCrons } from "../../src/config/crons.ts";
import { parseEvents } from "../../src/config/events.ts";
import { compileSchedule } from "../../src/cron/schedule.ts";
import { binaryPath, tempHome } from "../helpers/daemon.ts";

const ROOT = join(import.meta.dir, "..", "..");
const DOCS = ["README.md", "docs/build-a-client.md"];

/** What a fragment leaves to the rest of the reader's config, by the block's first line. */
const CONTEXT: Record<string, string> = {
  // Its [permissions.researcher] example is about an agent the reader has.
  "[daemon]": '[agents.researcher]\nmodel = "gpt-4o"\n',
  "[agents.lead]": '[agents.researcher]\nmodel = "gpt-4o"\n[agents.coder]\nmodel = "gpt-4o"\n',
};

interface Block {
  where: string;
  text: string;
}

function tomlBlocks(file: string): Block[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const blocks: Block[] = [];
  const re = /^```toml\n([\s\S]*?)^```/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const line = text.slice(0, m.index).split("\n").length;
    blocks.push({ where: `${file}:${line}`, text: m[1]! });
  }
  return blocks;
}

/** Each ${VAR} named in `text`, set to a placeholder. */
function placeholderEnv(text: string): Record<string, string> {
  const env: Record<string, string> = { PATH: `${dirname(binaryPath())}:${process.env.PATH ?? "/usr/bin:/bin"}` };
  for (const m of text.matchAll(/\$\{([A-Z0-9_]+)\}/g)) env[m[1]!] = `placeholder-${m[1]!.toLowerCase()}`;
  return env;
}

/** Parses `text` as crabtalk.toml (or as crons.toml / events.toml when its first line names that file); returns the error, or null when valid. */
function validate(text: string, where: string): string | null {
  const agentsExist = () => null;
  if (text.startsWith("# $CRABTALK_HOME/crons.toml")) {
    const r = parseCrons(text, where, (job) => {
      const s = compileSchedule(job);
      return typeof s === "string" ? s : null;
    });
    return r.errors[0] ?? (r.jobs.length ? null : "no [[cron]] job in the block");
  }
  if (text.startsWith("# $CRABTALK_HOME/events.toml")) {
    const r = parseEvents(text, where, agentsExist);
    return r.errors[0] ?? (r.subscriptions.length ? null : "no [[subscription]] in the block");
  }
  try {
    parseConfig(
      text,
      { file: where, env: placeholderEnv(text) },
      { home: tempHome("crabtalk-drift-"), builtinTools: [] },
    );
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The default config with every commented example run uncommented (see the rule above). */
export function uncommentExamples(text: string): string {
  const out: string[] = [];
  let inRun = false;
  for (const line of text.split("\n")) {
    if (/^# \[[A-Za-z0-9_.-]+\]/.test(line)) inRun = true;
    else if (!line.startsWith("# ")) inRun = false;
    out.push(inRun ? line.slice(2) : line);
  }
  return out.join("\n");
}

describe("every TOML block in the docs parses", () => {
  const blocks = DOCS.filter((f) => existsSync(join(ROOT, f))).flatMap(tomlBlocks);
  test("the docs hold TOML blocks at all (the extraction works)", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });
  for (const block of blocks) {
    test(block.where, () => {
      const first = block.text
        .split("\n")[0]!
        .replace(/\s+#.*$/, "")
        .trim();
      const context = CONTEXT[first] ?? "";
      expect(validate(block.text + context, block.where)).toBeNull();
    });
  }
  test("every CONTEXT entry still completes a block (none is stale)", () => {
    const firsts = new Set(
      blocks.map((b) =>
        b.text
          .split("\n")[0]!
          .replace(/\s+#.*$/, "")
          .trim(),
      ),
    );
    for (const key of Object.keys(CONTEXT)) expect(firsts.has(key)).toBe(true);
  });
});

describe("the default config the daemon writes parses, examples included", () => {
  const variants: [string, Record<string, string>][] = [
    ["OpenAI", { OPENAI_API_KEY: "sk-x" }],
    ["Anthropic", { ANTHROPIC_API_KEY: "sk-x" }],
    ["Ollama", {}],
  ];
  for (const [name, env] of variants) {
    test(`${name}: as written`, () => {
      expect(validate(defaultConfig(env).text, `default config (${name})`)).toBeNull();
    });
    test(`${name}: with every commented example uncommented`, () => {
      const text = uncommentExamples(defaultConfig(env).text);
      // The examples are really there: an agent and two other providers.
      expect(text).toMatch(/^\[agents\.crab\]$/m);
      expect(text.match(/^\[provider\./gm)?.length).toBeGreaterThanOrEqual(3);
      expect(validate(text, `default config (${name}, examples uncommented)`)).toBeNull();
    });
  }
});

/** Command word paths of the README's command table: `crabtalk memory show\|search` -> ["memory","show"], ["memory","search"]. */
function readmeCommands(): string[][] {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = text.slice(text.indexOf("## Commands"));
  const rows = section.split("\n").filter((l) => l.startsWith("| `"));
  const commands: string[][] = [];
  for (const row of rows) {
    const cell = row.slice(1).split(/(?<!\\)\|/)[0]!;
    for (const span of cell.matchAll(/`([^`]+)`/g)) {
      // Spans are command lines from `crabtalk` on, written with or without it (`replay ID`, `mcp tools NAME`).
      const words = span[1]!.replace(/\\\|/g, "|").split(/\s+/);
      if (words[0] === "crabtalk") words.shift();
      let paths: string[][] = [[]];
      for (const word of words) {
        if (!/^[a-z][a-z|-]*$/.test(word)) break;
        paths = paths.flatMap((p) => word.split("|").map((alt) => [...p, alt]));
      }
      if (paths[0]!.length > 0) commands.push(...paths);
    }
  }
  return commands;
}

/**
 * Table entries whose last word is an argument the command reads itself, not
 * a subcommand: their command's help must name the whole line instead.
 */
const ARGUMENT_WORDS: Record<string, string> = {
  "search serve": "search", // src/cli/search.ts hands `serve` to the extension
};

describe("every command in the README's command table exists", () => {
  const commands = readmeCommands();
  test("the table was read (the extraction works)", () => {
    expect(commands.length).toBeGreaterThanOrEqual(25);
    expect(commands).toContainEqual(["memory", "rm"]);
    expect(commands).toContainEqual(["replay"]);
    expect(commands).toContainEqual(["mcp", "serve"]);
  });
  for (const words of commands) {
    test(`crabtalk ${words.join(" ")} --help`, () => {
      const line = words.join(" ");
      const command = ARGUMENT_WORDS[line]?.split(" ") ?? words;
      const r = Bun.spawnSync([binaryPath(), ...command, "--help"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempHome(), NO_COLOR: "1", CRABTALK_HOME: tempHome() },
        stdout: "pipe",
        stderr: "pipe",
      });
      const out = r.stdout.toString().replace(/\x1b\[[0-9;]*m/g, "");
      expect(r.exitCode).toBe(0);
      const usage = out.split("\n").find((l) => l.includes("USAGE")) ?? "";
      expect(usage).toMatch(new RegExp(`\\b${command.join(" ")}( |$)`));
      if (command !== words) expect(out).toContain(`crabtalk ${line}`);
    });
  }
  test("an unknown command fails the same check (the check can fail)", () => {
    const r = Bun.spawnSync([binaryPath(), "nosuchcommand", "--help"], { stdout: "pipe", stderr: "pipe" });
    const out = r.stdout.toString().replace(/\x1b\[[0-9;]*m/g, "");
    const usage = out.split("\n").find((l) => l.includes("USAGE")) ?? "";
    expect(usage).not.toMatch(/\bnosuchcommand( |$)/);
  });
});
