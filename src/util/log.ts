/**
 * Tagged loggers. Each module takes `logger("tag")` once; the daemon decides
 * where lines go (stderr and the rotated log file, see daemon/logging.ts) by
 * configuring the shared consola instance at start. Secrets must never be
 * passed to a logger: redact before logging (see util/redact.ts).
 */
import { consola, type ConsolaInstance } from "consola";

export type Logger = ConsolaInstance;

export function logger(tag: string): Logger {
  return consola.withTag(tag);
}

export { consola as rootLogger };
