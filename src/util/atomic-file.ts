/**
 * Whole-file writes that a kill at any moment leaves as the old content or
 * the new, never half of one: an owner-only temporary file beside the
 * target (its mode forced, in case one left by a crashed writer had others),
 * optionally fsynced, then renamed over the target.
 */
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";

export interface AtomicWriteOptions {
  /** fsync the data before the rename (durable across a power cut, not only a kill). */
  sync?: boolean;
}

export function writeFileAtomicSync(file: string, data: string, options: AtomicWriteOptions = {}): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    if (options.sync) {
      const fd = openSync(tmp, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
