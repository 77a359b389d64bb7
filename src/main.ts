#!/usr/bin/env bun
/**
 * Entry point: runs the citty root command with exit codes scripts can
 * trust: 0 success, 1 failure, 2 usage error.
 *
 * Start-up is the product ("running before your prompt returns"): this file
 * statically imports only leaves. `--version` answers before anything else
 * is parsed; the command table and each command are dynamic imports, so a
 * command loads only its own code (see cli/index.ts, bench/startup.ts).
 */
import type { CommandDef } from "citty";
import { CliFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./cli/failure.ts";
import { VERSION } from "./util/version.ts";
import { hoistGlobalFlags } from "./cli/global-flags.ts";
import { stdoutNeedsFlush } from "./cli/render/pipe.ts";

async function resolveForUsage(cmd: CommandDef, rawArgs: string[]): Promise<[CommandDef, CommandDef | undefined]> {
  const subs = (typeof cmd.subCommands === "function" ? await cmd.subCommands() : await cmd.subCommands) ?? {};
  const name = rawArgs.find((a) => !a.startsWith("-"));
  const sub = name ? subs[name] : undefined;
  if (!sub) return [cmd, undefined];
  const resolved = (typeof sub === "function" ? await (sub as () => Promise<CommandDef>)() : await sub) as CommandDef;
  return resolveForUsage(resolved, rawArgs.slice(rawArgs.indexOf(name!) + 1)).then(([c, parent]) => [c, parent ?? cmd]);
}

async function main(argv: string[]): Promise<number> {
  // `crabtalk --events` is the documented alias of `crabtalk events`.
  const aliased = argv.includes("--events") ? ["events", ...argv.filter((a) => a !== "--events")] : argv;
  const rawArgs = hoistGlobalFlags(aliased);
  if (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) {
    process.stdout.write(`${VERSION}\n`);
    return EXIT_OK;
  }
  const [{ runCommand, showUsage }, { cli }] = await Promise.all([import("citty"), import("./cli/index.ts")]);
  if (rawArgs.includes("--help") || rawArgs.includes("-h") || rawArgs.length === 0) {
    const [cmd, parent] = await resolveForUsage(cli, rawArgs);
    await showUsage(cmd, parent);
    return EXIT_OK;
  }
  try {
    await runCommand(cli, { rawArgs });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CliFailure) {
      process.stderr.write(`crabtalk: ${err.message}\n`);
      return err.code;
    }
    if (err instanceof Error && err.name === "CLIError") {
      process.stderr.write(`crabtalk: ${err.message}\nRun \`crabtalk --help\` for usage.\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`crabtalk: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT_FAILURE;
  }
}

const code = await main(process.argv.slice(2));
// Output to a pipe may still be queued: exit once it is flushed, or a large `--json` answer is cut short.
if (stdoutNeedsFlush()) await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
process.exit(code);
