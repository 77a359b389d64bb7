/**
 * Tagged loggers. Each module takes `logger("tag")` once, at import time;
 * the daemon decides later where lines go (stderr and the rotated log file,
 * see daemon/logging.ts) with `configureLoggers`, which reaches every logger
 * already handed out. Secrets must never be passed to a logger: redact first
 * (util/redact.ts); the daemon's reporter also scrubs known keys.
 */
import { consola, type ConsolaInstance, type ConsolaReporter } from "consola";

export type Logger = ConsolaInstance;

const created: ConsolaInstance[] = [];

export function logger(tag: string): Logger {
  const child = consola.withTag(tag);
  created.push(child);
  return child;
}

/** Sets level and reporters on the root logger and every tagged logger. */
export function configureLoggers(level: number, reporters: ConsolaReporter[]): void {
  for (const instance of [consola, ...created]) {
    instance.level = level;
    instance.setReporters(reporters);
  }
}
