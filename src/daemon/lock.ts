/**
 * One daemon per home. The lock file holds the owner's pid and is created
 * with O_EXCL, so of two daemons starting at once exactly one wins. A lock
 * whose pid is no longer a running crabtalk daemon (left by kill -9 or a
 * crash) is stale and replaced.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";

export class AlreadyRunning extends Error {
  constructor(readonly pid: number) {
    super(`crabtalk daemon already running (pid ${pid})`);
    this.name = "AlreadyRunning";
  }
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // Guard against pid reuse after a reboot: on Linux, check the process is a crabtalk daemon.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes("daemon");
  } catch {
    return true;
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
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      const lock: Lock = {
        release() {
          try {
            if (Number(readFileSync(path, "utf8").trim()) === process.pid) unlinkSync(path);
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
    try {
      owner = Number(readFileSync(path, "utf8").trim());
    } catch {
      continue; // Vanished between open and read: try again.
    }
    if (pidAlive(owner) && owner !== process.pid) throw new AlreadyRunning(owner);
    replacedStale = owner;
    try {
      unlinkSync(path);
    } catch {
      // Someone else removed it first; the next attempt sorts it out.
    }
  }
  throw new Error(`could not take the lock ${path}: it keeps changing; is another daemon starting?`);
}
