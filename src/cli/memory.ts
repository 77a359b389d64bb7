/**
 * `crabtalk memory`: list, show, search, edit and remove memory entries.
 * These read and write the files under $CRABTALK_HOME/memory directly, not
 * through the daemon: they are plain files the daemon rescans on every
 * read (memory/store.ts), so a change made here is seen by the next recall
 * of a running daemon, and the commands work while it is down. Writes go
 * through the same atomic writer the daemon uses.
 *
 * `--agent NAME` picks that agent's folder (memory/NAME/ when its config
 * says memory = "own"); default: the shared folder.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defineCommand } from "citty";
import { MemoryStore, type MemoryEntry } from "../memory/store.ts";
import { parseFrontmatter, requiredString } from "../skills/files.ts";
import { visibleControls as sanitize } from "./render/sanitize.ts";
import { localSetup } from "./local-config.ts";
import { CliFailure, EXIT_USAGE } from "./shared.ts";
import { wholeNumber } from "./sessions.ts";

const agentArg = {
  agent: { type: "string", description: 'Use this agent\'s memory folder (for memory = "own")', valueHint: "NAME" },
} as const;
const jsonArg = { json: { type: "boolean", description: "Print JSON instead of text" } } as const;
const nameArg = {
  name: { type: "positional", required: true, description: "The entry's name", valueHint: "NAME" },
} as const;

function openStore(agent: string | undefined): MemoryStore {
  const { paths, config } = localSetup();
  const root = join(paths.home, "memory");
  if (agent === undefined) return new MemoryStore(root, warn);
  const spec = config.agents.agents.get(agent);
  if (!spec) throw new CliFailure(`no agent is called "${agent}" in ${paths.config}`, EXIT_USAGE);
  if (spec.memory === "off") throw new CliFailure(`agent ${agent} has memory = "off": it has no memory folder`);
  return new MemoryStore(spec.memory === "own" ? join(root, agent) : root, warn);
}

/**
 * JSON on stdout, awaited: entries can add up to megabytes, and a pipe
 * write still pending when main calls process.exit is cut short.
 */
async function printJson(value: unknown): Promise<void> {
  await Bun.write(Bun.stdout, `${JSON.stringify(value)}\n`);
}

function warn(message: string): void {
  process.stderr.write(`warning: ${sanitize(message)}\n`);
}

async function entry(store: MemoryStore, name: string): Promise<MemoryEntry> {
  const e = await store.get(name);
  if (!e)
    throw new CliFailure(`no memory entry is called "${name}" in ${store.dir}; list them with \`crabtalk memory\``);
  return e;
}

const show = defineCommand({
  meta: { name: "show", description: "Print one entry: name, description, aliases, file and content." },
  args: { ...agentArg, ...jsonArg, ...nameArg },
  async run({ args }) {
    const e = await entry(openStore(args.agent), args.name);
    if (args.json) return printJson(e);
    const aliases = e.aliases.length > 0 ? `aliases: ${e.aliases.join(", ")}\n` : "";
    process.stdout.write(sanitize(`${e.name}\n${e.description}\n${aliases}file: ${e.file}\n\n${e.content}\n`));
  },
});

const search = defineCommand({
  meta: { name: "search", description: "Rank entries by BM25 (as the recall tool does); `word*` matches a prefix." },
  args: {
    ...agentArg,
    ...jsonArg,
    query: { type: "positional", required: true, description: "Words to look for", valueHint: "WORDS" },
    limit: { type: "string", description: "At most this many (default 10)", valueHint: "N" },
  },
  async run({ args }) {
    const limit = args.limit === undefined ? 10 : wholeNumber(args.limit, "--limit", 1);
    const hits = await openStore(args.agent).recall(args.query, limit);
    if (args.json) return printJson(hits.map((h) => ({ ...h.entry, score: h.score })));
    if (hits.length === 0) process.stdout.write(`nothing in memory matches "${sanitize(args.query)}"\n`);
    for (const h of hits)
      process.stdout.write(sanitize(`${h.score.toFixed(2).padStart(6)}  ${h.entry.name}  ${h.entry.description}\n`));
  },
});

const edit = defineCommand({
  meta: {
    name: "edit",
    description: "Open an entry in $EDITOR (default vi), then check its frontmatter still has name and description.",
  },
  args: { ...agentArg, ...nameArg },
  async run({ args }) {
    const e = await entry(openStore(args.agent), args.name);
    const editor = process.env.VISUAL || process.env.EDITOR || "vi";
    // The editor command may carry flags ("code -w"): split on spaces, no shell.
    const [cmd = "vi", ...flags] = editor.split(/\s+/).filter(Boolean);
    const r = spawnSync(cmd, [...flags, e.file], { stdio: "inherit" });
    if (r.error) throw new CliFailure(`cannot run the editor "${editor}": ${r.error.message}; set $EDITOR`);
    if (r.status !== 0) throw new CliFailure(`the editor exited with ${r.status}; ${e.file} is as the editor left it`);
    let problem: string | undefined;
    try {
      const { data } = await parseFrontmatter(readFileSync(e.file, "utf8"));
      for (const key of ["name", "description"]) {
        const v = requiredString(data, key);
        if (typeof v !== "string") problem = `its frontmatter ${v.missing}`;
      }
    } catch (err) {
      problem = (err as Error).message;
    }
    if (problem)
      throw new CliFailure(
        `${e.file}: ${problem}; recall skips it until fixed (run \`crabtalk memory edit ${args.name}\` again)`,
      );
    process.stdout.write(`${e.file} saved\n`);
  },
});

const rm = defineCommand({
  meta: { name: "rm", description: "Delete an entry (by name or alias)." },
  args: { ...agentArg, ...nameArg },
  async run({ args }) {
    const file = await openStore(args.agent).forget(args.name);
    if (!file) throw new CliFailure(`no memory entry is called "${args.name}"; list them with \`crabtalk memory\``);
    process.stdout.write(`removed ${file}\n`);
  },
});

const SUBS = ["show", "search", "edit", "rm"];

export const memoryCommand = defineCommand({
  meta: {
    name: "memory",
    description:
      "List memory entries ($CRABTALK_HOME/memory/*.md); `show NAME`, `search WORDS`, `edit NAME` and `rm NAME` work on one. Reads the files directly: no daemon needed.",
  },
  args: { ...agentArg, ...jsonArg },
  subCommands: { show, search, edit, rm },
  async run({ args }) {
    // citty runs the parent's run after a subcommand's.
    if (SUBS.includes(String(args._[0]))) return;
    if (args._.length > 0)
      throw new CliFailure(`unknown memory command "${args._[0]}": use show, search, edit or rm`, EXIT_USAGE);
    const store = openStore(args.agent);
    const entries = await store.list();
    if (args.json) return printJson(entries);
    if (entries.length === 0) process.stdout.write(`no memory entries in ${store.dir}\n`);
    for (const e of entries) process.stdout.write(sanitize(`${e.name}  ${e.description}\n`));
  },
});
