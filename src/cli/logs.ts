/**
 * `crabtalk logs [-f] [-n N]`: prints the daemon's log file, optionally
 * following it (across rotation) until Ctrl-C. Reads the file directly, so
 * it works when the daemon is down too.
 */
import { defineCommand } from "citty";
import { existsSync, openSync, readSync, closeSync, statSync, readFileSync } from "node:fs";
import { pathsFor, resolveHome } from "../config/paths.ts";
import { CliFailure, EXIT_USAGE } from "./shared.ts";

export function lastLines(text: string, n: number): string[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return n <= 0 ? [] : lines.slice(-n);
}

/**
 * Prints the last `n` lines of a log file, then, with `follow`, what is
 * appended to it as it comes (polled every 200 ms; a file that shrank was
 * rotated and is read from its start). Never returns while following.
 */
export async function printLog(file: string, n: number, follow: boolean): Promise<void> {
  let offset = 0;
  if (existsSync(file)) {
    const text = readFileSync(file, "utf8");
    for (const line of lastLines(text, n)) process.stdout.write(`${line}\n`);
    offset = Buffer.byteLength(text);
  }
  if (!follow) return;
  await new Promise<void>(() => {
    setInterval(() => {
      if (!existsSync(file)) return;
      const size = statSync(file).size;
      if (size < offset) offset = 0; // rotated
      if (size === offset) return;
      const fd = openSync(file, "r");
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      closeSync(fd);
      offset = size;
      process.stdout.write(buf);
    }, 200);
  });
}

export const logsCommand = defineCommand({
  meta: { name: "logs", description: "Print the daemon log ($CRABTALK_HOME/logs/daemon.log). -f keeps following it." },
  args: {
    follow: { type: "boolean", alias: "f", description: "Keep printing new lines as the daemon writes them" },
    lines: {
      type: "string",
      alias: "n",
      default: "50",
      description: "How many of the last lines to print first",
      valueHint: "N",
    },
  },
  async run({ args }) {
    const n = Number(args.lines);
    if (!Number.isInteger(n) || n < 0)
      throw new CliFailure(`-n expects a whole number, got "${args.lines}"`, EXIT_USAGE);
    const file = pathsFor(resolveHome()).logFile;
    if (!existsSync(file) && !args.follow)
      throw new CliFailure(`no log file at ${file}: has the daemon ever run with this CRABTALK_HOME?`);
    await printLog(file, n, args.follow === true);
  },
});
