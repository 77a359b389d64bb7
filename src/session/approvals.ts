/**
 * Tool calls waiting for a human. The session layer registers a call when
 * the permission engine says "ask"; an ApproveMsg from any client answers it
 * by call id. No answer within the timeout, or a cancelled turn, is a deny.
 */
import type { Authorization } from "../agent/types.ts";

interface Pending {
  session: number;
  resolve(a: Authorization): void;
}

export class Approvals {
  private readonly pending = new Map<string, Pending>();

  wait(callId: string, session: number, timeoutMs: number, signal: AbortSignal): Promise<Authorization> {
    return new Promise<Authorization>((resolve) => {
      const finish = (a: Authorization) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.pending.delete(callId);
        resolve(a);
      };
      const timer = setTimeout(() => finish({ allowed: false, reason: `denied: nobody answered the approval request within ${Math.round(timeoutMs / 1000)} s` }), timeoutMs);
      const onAbort = () => finish({ allowed: false, reason: "denied: the turn was cancelled while waiting for approval" });
      signal.addEventListener("abort", onAbort, { once: true });
      this.pending.set(callId, { session, resolve: finish });
    });
  }

  /** Answers a waiting call; false when no call with that id is waiting (or it belongs to another session). */
  answer(callId: string, allow: boolean, reason: string | undefined, session?: number): boolean {
    const p = this.pending.get(callId);
    if (!p || (session !== undefined && session !== 0 && p.session !== session)) return false;
    p.resolve(allow ? { allowed: true } : { allowed: false, reason: `denied by the user${reason ? `: ${reason}` : ""}` });
    return true;
  }

  get size(): number {
    return this.pending.size;
  }
}
