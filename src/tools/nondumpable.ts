/**
 * Hides the daemon's memory and environment from the tools it runs.
 *
 * Tools run as the daemon's own user, so without this `cat /proc/$PPID/environ`
 * from bash would print the daemon's whole environment (API keys included) and
 * /proc/<pid>/mem would be open to ptrace-free reading. prctl(PR_SET_DUMPABLE, 0)
 * makes the kernel treat the daemon's /proc files as root's and refuse
 * same-uid ptrace. Limit: a daemon run as root cannot hide from tools that are
 * also root; redaction of tool output (util/redact.ts) still applies there.
 */
import { dlopen, FFIType } from "bun:ffi";

const PR_SET_DUMPABLE = 4;
const PR_GET_DUMPABLE = 3;

export type DumpableResult = { ok: true } | { ok: false; reason: string };

/** Marks this process non-dumpable (Linux); says why not when it cannot. Never throws. */
export function makeNonDumpable(): DumpableResult {
  if (process.platform !== "linux") return { ok: false, reason: `prctl is Linux-only (platform ${process.platform})` };
  try {
    const libc = dlopen("libc.so.6", {
      prctl: {
        args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64],
        returns: FFIType.i32,
      },
    });
    try {
      const set = libc.symbols.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
      if (set !== 0) return { ok: false, reason: `prctl(PR_SET_DUMPABLE, 0) returned ${set}` };
      const now = libc.symbols.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
      if (now !== 0) return { ok: false, reason: `the process is still dumpable (PR_GET_DUMPABLE = ${now})` };
      return { ok: true };
    } finally {
      libc.close();
    }
  } catch (err) {
    return {
      ok: false,
      reason: `cannot call prctl through libc.so.6: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}
