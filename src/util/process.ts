/**
 * Whether a process is still the one that wrote a pid file: its pid is alive
 * and, on Linux, its start time in /proc matches (a pid reused after a reboot
 * or a crash long ago is another process). Shared by the daemon's lock and
 * `crabtalk doctor`.
 */
import { readFileSync } from "node:fs";

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot; undefined off Linux. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Whether `pid` is alive and, when `startTime` is known, is still the process that started then. */
export function processAlive(pid: number, startTime: string | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  // Same pid, different process: the lock outlived its owner (a reboot, or a crash long ago).
  if (startTime !== undefined) {
    const now = processStartTime(pid);
    if (now !== undefined && now !== startTime) return false;
  }
  return true;
}
