/**
 * A log file rotated by size: the file plus .1 .. .3, synchronous appends so
 * a crash loses no line that was written. The daemon log and each service's
 * log use it.
 */
import { appendFileSync, existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";

const KEEP_ROTATED = 3;

export class RotatingFile {
  private size: number;

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.size = existsSync(path) ? statSync(path).size : 0;
  }

  append(line: string): void {
    const bytes = Buffer.byteLength(line) + 1;
    if (this.size + bytes > this.maxBytes && this.size > 0) this.rotate();
    appendFileSync(this.path, `${line}\n`, { mode: 0o600 });
    this.size += bytes;
  }

  private rotate(): void {
    for (let i = KEEP_ROTATED - 1; i >= 1; i--) {
      const from = `${this.path}.${i}`;
      if (existsSync(from)) renameSync(from, `${this.path}.${i + 1}`);
    }
    renameSync(this.path, `${this.path}.1`);
    this.size = 0;
  }
}
