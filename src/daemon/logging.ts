/**
 * Where the daemon's log lines go: stderr (for systemd's journal or a
 * terminal) and $CRABTALK_HOME/logs/daemon.log, rotated by size. One line per
 * event: ISO time, level, [tag], message. `crabtalk logs` reads the file.
 *
 * Rotation keeps daemon.log plus daemon.log.1 .. .3; writes are synchronous
 * appends so a crash loses no line that was logged.
 */
import { writeSync } from "node:fs";
import { configureLoggers, logText } from "../util/log.ts";
import type { ConsolaReporter, LogObject } from "consola/core";
import { redact } from "../util/redact.ts";
import { RotatingFile } from "../util/rotating-file.ts";

export { RotatingFile };

export function formatLogLine(obj: LogObject, secrets: readonly string[]): string {
  const text = logText(obj);
  const level = (obj.type === "log" ? "info" : obj.type).toUpperCase();
  return `${obj.date.toISOString()} ${level.padEnd(5)} ${obj.tag ? `[${obj.tag}] ` : ""}${redact(text, secrets)}`;
}

export interface LoggingOptions {
  file: string;
  maxBytes: number;
  /** consola level: 0 error .. 3 info .. 4 debug. */
  level: number;
  /** Literal secrets (API keys from config) scrubbed from every line. */
  secrets: () => readonly string[];
  stderr?: boolean;
}

/**
 * Writes to fd 2 synchronously, as Node writes process.stderr to files and
 * pipes on Linux, but without process.stderr: creating that stream (Bun
 * builds a node:stream Writable for it) cost about 1 MB of idle RSS for the
 * one line an idle daemon logs (issue 20). What stderr refuses (closed, or a
 * full non-blocking pipe) is dropped there; the log file keeps the line.
 */
function writeStderr(text: string): void {
  const bytes = Buffer.from(text);
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(2, bytes, off);
  } catch {
    // Not the daemon's concern: the file has the line.
  }
}

export function setupDaemonLogging(options: LoggingOptions): void {
  const file = new RotatingFile(options.file, options.maxBytes);
  const reporter: ConsolaReporter = {
    log(obj) {
      const line = formatLogLine(obj, options.secrets());
      if (options.stderr !== false) writeStderr(`${line}\n`);
      try {
        file.append(line);
      } catch {
        // A full disk must not take the daemon down; stderr still has the line.
      }
    },
  };
  configureLoggers(options.level, [reporter]);
}
