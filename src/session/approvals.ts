/**
 * Tool calls waiting for a human. The session layer registers a call when
 * the permission engine says "ask"; an ApproveMsg from any client answers it
 * by call id. No answer within the timeout, or a cancelled turn, is a deny.
 */
import type { Authorization } from "../agent/types.ts";

/** What a prompt asked, kept while it waits so a client that connects later can list it (the dashboard). */
export interface ApprovalAsk {
  agent: string;
  tool: string;
  /** The call's arguments as JSON text. */
  arguments: string;
}

export interface PendingApproval extends ApprovalAsk {
  callId: string;
  session: number;
  askedAtMs: number;
  timeoutMs: number;
}

interface Pending extends PendingApproval {
  resolve(a: Authorization): void;
}

/** Keyed by session and call id: call ids are only unique within a response (local models often say "call_0"). */
function key(session: number, callId: string): string {
  return `${session}\u0000${callId}`;
}

export class Approvals {
  private readonly pending = new Map<string, Pending>();

  wait(
    callId: string,
    session: number,
    timeoutMs: number,
    signal: AbortSignal,
    ask: ApprovalAsk = { agent: "", tool: "", arguments: "" },
  ): Promise<Authorization> {
    const cancelled: Authorization = {
      allowed: false,
      reason: "denied: the turn was cancelled while waiting for approval",
    };
    if (signal.aborted) return Promise.resolve(cancelled);
    return new Promise<Authorization>((resolve) => {
      const finish = (a: Authorization) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (this.pending.get(key(session, callId))?.resolve === finish) this.pending.delete(key(session, callId));
        resolve(a);
      };
      const timer = setTimeout(
        () =>
          finish({
            allowed: false,
            reason: `denied: nobody answered the approval request within ${Math.round(timeoutMs / 1000)} s`,
          }),
        timeoutMs,
      );
      const onAbort = () => finish(cancelled);
      signal.addEventListener("abort", onAbort, { once: true });
      this.pending.set(key(session, callId), {
        ...ask,
        callId,
        session,
        askedAtMs: Date.now(),
        timeoutMs,
        resolve: finish,
      });
    });
  }

  /** Answers a waiting call; false when no call with that id is waiting (or it belongs to another session). */
  answer(callId: string, allow: boolean, reason: string | undefined, session?: number): boolean {
    const p = session
      ? this.pending.get(key(session, callId))
      : [...this.pending.values()].find((x) => x.callId === callId);
    if (!p) return false;
    p.resolve(
      allow ? { allowed: true } : { allowed: false, reason: `denied by the user${reason ? `: ${reason}` : ""}` },
    );
    return true;
  }

  /** Every prompt waiting now, oldest first. */
  list(): PendingApproval[] {
    return [...this.pending.values()].map(({ resolve: _, ...p }) => p);
  }

  get size(): number {
    return this.pending.size;
  }
}
