/**
 * `crabtalk config` (print the daemon's config, secrets as "***"),
 * `config check [FILE]` (validate without a daemon), `config edit` (edit a
 * copy in $EDITOR, validate, then set it on the daemon: a bad edit is
 * offered again on a terminal or kept aside, never applied) and
 * `crabtalk reload`.
 */
import { defineCommand } from "citty";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../config/errors.ts";
import { parseConfig } from "../config/load.ts";
import { resolveHome } from "../config/paths.ts";
import type { ReloadReport } from "../protocol/gen/crabtalk.ts";
import { DaemonError } from "../client/errors.ts";
import { CliFailure, connectionArgs, printJson, withClient } from "./shared.ts";

function printReport(report: ReloadReport | undefined, json: boolean | undefined): void {
  if (!report) throw new CliFailure("the daemon answered without a reload report");
  if (json) return printJson(report);
  if (report.changes.length === 0) process.stdout.write("reloaded: nothing changed\n");
  else for (const c of report.changes) process.stdout.write(`reloaded: ${c}\n`);
  for (const k of report.needsRestart) process.stdout.write(`needs a restart to apply: ${k}\n`);
}

/** The problems of a config text, as the daemon would report them; [] when it is valid. */
export function checkConfigText(text: string, file: string, env: Record<string, string | undefined>): string[] {
  try {
    // Grants are checked for syntax only, so the built-in tool list (the default grant) does not matter here.
    parseConfig(text, { file, env }, { home: resolveHome(env), builtinTools: [] });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [err.message];
    throw err;
  }
}

const checkCommand = defineCommand({
  meta: {
    name: "check",
    description:
      "Validate a config file without a daemon (default $CRABTALK_HOME/crabtalk.toml): prints each error with file, line, key and fix; exits 1 when there is one.",
  },
  args: { file: { type: "positional", required: false, description: "The file to check", valueHint: "FILE" } },
  run({ args }) {
    const file = args.file ?? join(resolveHome(process.env), "crabtalk.toml");
    if (!existsSync(file)) throw new CliFailure(`${file}: no such file`);
    const problems = checkConfigText(readFileSync(file, "utf8"), file, process.env);
    if (problems.length > 0) throw new CliFailure(problems.join("\n"));
    process.stdout.write(`${file}: ok\n`);
  },
});

const editCommand = defineCommand({
  meta: {
    name: "edit",
    description:
      "Edit the daemon's config in $EDITOR (secrets show as *** and are kept unless you replace them), validate it, then apply it as a reload. A bad edit is reopened on a terminal, or kept aside and not applied.",
  },
  args: { ...connectionArgs },
  async run({ args }) {
    const editor = process.env.VISUAL || process.env.EDITOR;
    if (!editor)
      throw new CliFailure("set $EDITOR (or $VISUAL) to the editor to use, e.g. EDITOR=nano crabtalk config edit");
    await withClient(args, async (client) => {
      const original = (await client.request({ getConfig: {} })).config!.config;
      const dir = mkdtempSync(join(tmpdir(), "crabtalk-config-"));
      const copy = join(dir, "crabtalk.toml");
      writeFileSync(copy, original, { mode: 0o600 });
      let keepAside = false;
      try {
        for (;;) {
          const r = Bun.spawnSync(["sh", "-c", `${editor} "$1"`, "sh", copy], {
            stdin: "inherit",
            stdout: "inherit",
            stderr: "inherit",
          });
          if (r.exitCode !== 0) throw new CliFailure(`the editor exited with ${r.exitCode}; nothing was applied`);
          const text = readFileSync(copy, "utf8");
          if (text === original) {
            process.stdout.write("no change; nothing applied\n");
            return;
          }
          // The daemon validates (with its own environment for ${VAR}) and puts back the secrets shown as ***.
          let problem: string;
          try {
            const reply = await client.request({ setConfig: { config: text } });
            printReport(reply.reloaded, false);
            return;
          } catch (err) {
            if (!(err instanceof DaemonError) || err.code !== 400) throw err;
            problem = err.message;
          }
          process.stderr.write(`${problem}\n`);
          if (!process.stdin.isTTY) {
            keepAside = true;
            throw new CliFailure(`the edit is not valid and was not applied; it is kept in ${copy}`);
          }
          process.stderr.write("press Enter to edit again, or Ctrl-C to give up (your edit is kept)\n");
          for await (const _ of console) break;
        }
      } finally {
        if (!keepAside) rmSync(dir, { recursive: true, force: true });
      }
    });
  },
});

export const configCommand = defineCommand({
  meta: {
    name: "config",
    description:
      "Print the daemon's config (literal secrets as ***, ${VAR} references as written). Subcommands: check, edit.",
  },
  args: { ...connectionArgs },
  subCommands: { check: checkCommand, edit: editCommand },
  async run({ args, rawArgs }) {
    if (rawArgs.some((a) => a === "check" || a === "edit")) return;
    await withClient(args, async (client) => {
      process.stdout.write((await client.request({ getConfig: {} })).config!.config);
    });
  },
});

export const reloadCommand = defineCommand({
  meta: {
    name: "reload",
    description:
      "Reload crabtalk.toml in the running daemon: only what changed is applied, sessions and turns go on; a bad file changes nothing and is reported with file, line and key.",
  },
  args: { ...connectionArgs, json: { type: "boolean", description: "Print the reload report as JSON" } },
  async run({ args }) {
    await withClient(args, async (client) => printReport((await client.request({ reload: {} })).reloaded, args.json));
  },
});
