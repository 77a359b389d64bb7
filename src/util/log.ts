/**
 * Tagged loggers. Each module takes `logger("tag")` once, at import time;
 * the daemon decides later where lines go (stderr and the rotated log file,
 * see daemon/logging.ts) with `configureLoggers`, which reaches every logger
 * already handed out. Secrets must never be passed to a logger: redact first
 * (util/redact.ts); the daemon's reporter also scrubs known keys.
 *
 * Built on consola's core (levels, tags, throttling of repeats) without its
 * terminal reporters: those load node:tty, stream classes, util.inspect and
 * an Intl.Segmenter at import, about 2 ms of every process start (measured
 * with the CPU profiler, bench/startup.ts), and nothing here draws boxes or
 * colours. Until a process configures its own, lines go to stderr as
 * `[level] [tag] message`, the shape of consola's basic reporter.
 */
import { createConsola, type ConsolaInstance, type ConsolaReporter, type LogObject } from "consola/core";

/** What a module logs through: one method per level the daemon uses. */
export interface Logger {
  error(message: unknown, ...args: unknown[]): void;
  warn(message: unknown, ...args: unknown[]): void;
  info(message: unknown, ...args: unknown[]): void;
  debug(message: unknown, ...args: unknown[]): void;
}

/** The words of one log line: strings as they are, errors with their stack, other values as JSON. */
export function logText(obj: LogObject): string {
  return obj.args
    .map((a) => (a instanceof Error ? (a.stack ?? a.message) : typeof a === "string" ? a : JSON.stringify(a)))
    .join(" ");
}

const stderrReporter: ConsolaReporter = {
  log(obj) {
    const tag = obj.tag ? `[${obj.tag}] ` : "";
    process.stderr.write(`[${obj.type}] ${tag}${logText(obj)}\n`);
  },
};

/** consola's own default: warnings only under test runners, info otherwise; CONSOLA_LEVEL overrides. */
function defaultLevel(env: Record<string, string | undefined>): number {
  const configured = Number.parseInt(env.CONSOLA_LEVEL ?? "", 10);
  if (Number.isFinite(configured)) return configured;
  return env.NODE_ENV === "test" || (env.TEST !== undefined && env.TEST !== "false") ? 1 : 3;
}

const root = createConsola({ level: defaultLevel(process.env), reporters: [stderrReporter] });
const created: ConsolaInstance[] = [];

/**
 * A tagged logger whose consola child is made at its first line, not at
 * import. Most of the 25 or so loggers print nothing in a daemon's life, and
 * making every child at import (consola deep-merges its options with defu and
 * binds a function per log type) ran hot enough for JSC to compile defu with
 * its optimizing tier (DFG) during start-up: about 3 MB of idle RSS, more than
 * the floor program's whole margin (issue 20; BUN_JSC_reportDFGCompileTimes=1
 * shows it). A child made later takes the root's level and reporters as they
 * are then; configureLoggers reaches the children already made.
 */
export function logger(tag: string): Logger {
  let child: ConsolaInstance | undefined;
  const get = (): ConsolaInstance => {
    if (!child) {
      child = root.withTag(tag);
      created.push(child);
    }
    return child;
  };
  return {
    error: (message, ...args) => get().error(message, ...args),
    warn: (message, ...args) => get().warn(message, ...args),
    info: (message, ...args) => get().info(message, ...args),
    debug: (message, ...args) => get().debug(message, ...args),
  };
}

/** Back to how a process starts: the default level and the stderr reporter (a test that configures restores this). */
export function resetLoggers(): void {
  configureLoggers(defaultLevel(process.env), [stderrReporter]);
}

/** Sets level and reporters on the root logger and every tagged logger. */
export function configureLoggers(level: number, reporters: ConsolaReporter[]): void {
  for (const instance of [root, ...created]) {
    instance.level = level;
    instance.setReporters(reporters);
  }
}
