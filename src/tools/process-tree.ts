/**
 * Finding and killing every process a bash command started, including the
 * ones that left its process group (`setsid`, `nohup … &` under a new
 * session): signalling the group cannot reach those.
 *
 * Each command's environment carries a unique tag (TAG_VAR=<random>), which
 * children inherit whatever session or group they move to. On timeout or
 * cancel the tool scans /proc/<pid>/environ for the tag (readable for our
 * own uid's processes) and kills what it finds, then says truthfully what
 * it killed and what survived. Limit: a process that clears or rewrites
 * its own environment (env -i, exec -c) loses the tag and is not found;
 * without /proc (not Linux) only the group is killed.
 */
import { readdirSync, readFileSync } from "node:fs";

export const TAG_VAR = "CRABTALK_TOOL_CALL";

/** How often a sweep looks again while waiting for processes to die. */
const POLL_MS = 25;
/** After SIGKILL a process is gone within milliseconds unless stuck in the kernel (D state). */
const AFTER_SIGKILL_MS = 1000;

export interface TaggedProcess {
  pid: number;
  /** Its process group; differs from the command's when it left with setsid. */
  pgid: number;
}

export interface SweepResult {
  /** Tagged processes outside the command's process group that were killed. */
  escapedKilled: number[];
  /** Tagged processes (in the group or not) still alive after SIGKILL. */
  survived: number[];
}

export function newTag(): string {
  return crypto.randomUUID();
}

/** Every live process whose environment holds TAG_VAR=tag (zombies have no environment and are not listed). */
export function findTagged(tag: string): TaggedProcess[] {
  if (process.platform !== "linux") return [];
  const needle = Buffer.from(`${TAG_VAR}=${tag}\0`);
  const out: TaggedProcess[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const name of entries) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      // procfs reads never wait on a disk: synchronous is fine and keeps the scan one pass.
      const env = readFileSync(`/proc/${pid}/environ`);
      if (env.indexOf(needle) === -1) continue;
      out.push({ pid, pgid: pgidOf(pid) });
    } catch {
      // Gone, or another user's process (EACCES): not ours.
    }
  }
  return out;
}

/** Field 5 of /proc/<pid>/stat, after the parenthesised command name (which may hold spaces). */
function pgidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[2]);
}

/**
 * Kills what is left of a command after its group was signalled: SIGTERM
 * to tagged processes outside `group`, then, after `graceMs`, SIGKILL to the
 * group and every tagged process left. Resolves once none is left or
 * AFTER_SIGKILL_MS past the SIGKILL.
 */
export async function sweepTagged(tag: string, group: number, graceMs: number): Promise<SweepResult> {
  const escaped = new Set<number>();
  const termOutsiders = () => {
    const found = findTagged(tag);
    for (const p of found) {
      if (p.pgid === group || escaped.has(p.pid)) continue;
      escaped.add(p.pid);
      signal(p.pid, "SIGTERM");
    }
    return found;
  };

  const graceEnd = Date.now() + graceMs;
  let left = termOutsiders();
  while (left.length > 0 && Date.now() < graceEnd) {
    await Bun.sleep(POLL_MS);
    left = termOutsiders();
  }
  if (left.length > 0) {
    signal(-group, "SIGKILL");
    const killEnd = Date.now() + AFTER_SIGKILL_MS;
    while (left.length > 0 && Date.now() < killEnd) {
      for (const p of left) {
        if (p.pgid !== group) escaped.add(p.pid);
        signal(p.pid, "SIGKILL");
      }
      await Bun.sleep(POLL_MS);
      left = findTagged(tag);
    }
  }
  const survived = left.map((p) => p.pid);
  return { escapedKilled: [...escaped].filter((pid) => !survived.includes(pid)), survived };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: already gone.
  }
}

/** The note added to a timed-out or cancelled command's result: what was killed, and what was not. */
export function sweepNote(sweep: SweepResult): string {
  let note = "the command's processes were killed";
  if (sweep.escapedKilled.length > 0) {
    const n = sweep.escapedKilled.length;
    note += `, including ${n} that had left its process group (pid${n === 1 ? "" : "s"} ${sweep.escapedKilled.join(", ")})`;
  }
  if (sweep.survived.length > 0) {
    const n = sweep.survived.length;
    note += `; but ${n} process${n === 1 ? " is" : "es are"} still running despite SIGKILL (pid${n === 1 ? "" : "s"} ${sweep.survived.join(", ")})`;
  }
  return note;
}
