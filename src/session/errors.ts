/**
 * The session layer's errors, as kinds a caller can act on. They carry no
 * wire codes: the daemon maps each kind to its protocol code in one place
 * (daemon/errors.ts), so the engine stays free of transport concerns.
 */

export type SessionErrorKind =
  | "bad_request"
  | "not_found"
  | "conflict"
  | "forbidden"
  | "too_large"
  | "budget_exceeded"
  | "shutting_down"
  | "provider_failed"
  | "slow_subscriber"
  | "storage_failed"
  | "timeout"
  /** A turn that ended in error: `status` is the code its end event carried (a provider's HTTP status, 507 for a refused write). */
  | "turn_failed"
  | "internal";

export class SessionError extends Error {
  override readonly name: string = "SessionError";
  constructor(
    readonly kind: SessionErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A subscriber that fell too far behind; it may re-attach after `lastDeliveredSeq` without a gap. */
export class SlowSubscriber extends SessionError {
  override readonly name = "SlowSubscriber";
  constructor(
    readonly lastDeliveredSeq: number,
    capacity: number,
  ) {
    super(
      "slow_subscriber",
      `client fell more than ${capacity} events behind and was dropped; re-attach with after_seq=${lastDeliveredSeq} to resume without a gap`,
    );
  }
}
