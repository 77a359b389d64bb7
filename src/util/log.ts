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

export type Logger = ConsolaInstance;

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

export function logger(tag: string): Logger {
  const child = root.withTag(tag);
  created.push(child);
  return child;
}

/** Sets level and reporters on the root logger and every tagged logger. */
export function configureLoggers(level: number, reporters: ConsolaReporter[]): void {
  for (const instance of [root, ...created]) {
    instance.level = level;
    instance.setReporters(reporters);
  }
}
