/**
 * The gateway's durable files (chat map, notify cursor) under
 * $CRABTALK_HOME/gateways/telegram/: read once at start, written whole and
 * atomically (a temporary file, fsync, rename), so a kill at any moment
 * leaves either the old content or the new, never half of one.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileAtomicSync } from "../../util/atomic-file.ts";

export function readJson<T>(file: string, fallback: T): T {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return fallback;
    throw new Error(`${file} is unreadable (${(err as Error).message}); move it aside to start over`);
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomicSync(file, `${JSON.stringify(value, null, 1)}\n`, { sync: true });
}
