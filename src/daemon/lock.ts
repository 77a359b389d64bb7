/**
 * One daemon per home. The lock file holds the owner's pid and, on Linux,
 * the process start time from /proc, and is created with O_EXCL, so of two
 * daemons starting at once exactly one wins. A lock whose pid is gone, or
 * now belongs to another process (pid reuse after a reboot: the start time
 * differs), is stale and replaced.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { processAlive, processStartTime } from "../util/process.ts";

export class AlreadyRunning extends Error {
  constructor(readonly pid: number) {
    super(`crabtalk daemon already running (pid ${pid})`);
    this.name = "AlreadyRunning";
  }
}

export interface Lock {
  release(): void;
}

/** Takes the lock or throws AlreadyRunning. Returns whether a stale lock was replaced. */
export function acquireLock(path: string): { lock: Lock; replacedStale: number | null } {
  let replacedStale: number | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      const started = processStartTime(process.pid);
      writeSync(fd, started === undefined ? `${process.pid}\n` : `${process.pid} ${started}\n`);
      closeSync(fd);
      const lock: Lock = {
        release() {
          try {
            if (Number(readFileSync(path, "utf8").trim().split(" ")[0]) === process.pid) unlinkSync(path);
          } catch {
            // Already gone.
          }
        },
      };
      return { lock, replacedStale };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let owner = NaN;
    let ownerStart: string | undefined;
    try {
      const [pid, start] = readFileSync(path, "utf8").trim().split(" ");
      owner = Number(pid);
      ownerStart = start;
    } catch {
      continue; // Vanished between open and read: try again.
    }
    if (processAlive(owner, ownerStart) && owner !== process.pid) throw new AlreadyRunning(owner);
    replacedStale = owner;
    try {
      unlinkSync(path);
    } catch {
      // Someone else removed it first; the next attempt sorts it out.
    }
  }
  throw new Error(`could not take the lock ${path}: it keeps changing; is another daemon starting?`);
}
