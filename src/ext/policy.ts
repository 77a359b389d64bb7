/**
 * The restart decision, as a pure function of what happened, so it is
 * tested without processes or clocks (test/ext/policy.test.ts).
 *
 * - `never`: never restarted; `on_failure`: after a failed run (a non-zero
 *   exit, a signal, a failed handshake, a protocol violation); `always`:
 *   after any exit.
 * - Backoff 1 s, doubling to 60 s; a run of 60 s or more counts as healthy
 *   and starts the backoff and the failure count over.
 * - CRASH_LOOP failures within CRASH_WINDOW_MS: no more restarts (`failed`).
 */
import type { RestartPolicy } from "../config/services.ts";

export const BACKOFF_FIRST_MS = 1_000;
export const BACKOFF_MAX_MS = 60_000;
/** Running this long counts as healthy: the backoff and the failure count start over. */
export const HEALTHY_MS = 60_000;
export const CRASH_LOOP = 5;
export const CRASH_WINDOW_MS = 120_000;

/** What the supervisor remembers between runs. */
export interface RestartMemory {
  /** The wait before the next restart. */
  backoffMs: number;
  /** When recent failed runs ended. */
  failures: number[];
}

export type Decision =
  | { action: "restart"; delayMs: number; memory: RestartMemory }
  | { action: "stop"; state: "failed" | "stopped"; crashLoop: boolean; memory: RestartMemory };

export function freshMemory(): RestartMemory {
  return { backoffMs: BACKOFF_FIRST_MS, failures: [] };
}

/** What to do after a run that lasted `ranMs` (0 if it never got running) and ended at `now`. */
export function decide(
  policy: RestartPolicy,
  run: { failed: boolean; ranMs: number; now: number },
  before: RestartMemory,
): Decision {
  const healthy = run.ranMs >= HEALTHY_MS;
  const base = healthy ? freshMemory() : before;
  const failures = run.failed
    ? [...base.failures.filter((t) => run.now - t < CRASH_WINDOW_MS), run.now]
    : base.failures;
  const memory = { backoffMs: base.backoffMs, failures };
  const again = policy === "always" || (policy === "on_failure" && run.failed);
  if (!again) return { action: "stop", state: run.failed ? "failed" : "stopped", crashLoop: false, memory };
  if (failures.length >= CRASH_LOOP) return { action: "stop", state: "failed", crashLoop: true, memory };
  return {
    action: "restart",
    delayMs: memory.backoffMs,
    memory: { ...memory, backoffMs: Math.min(memory.backoffMs * 2, BACKOFF_MAX_MS) },
  };
}
