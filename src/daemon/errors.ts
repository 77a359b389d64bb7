/**
 * The one place where errors of the layers below become wire errors: a
 * session error's kind picks its code, a store write the disk refused is
 * 507, anything carrying an HTTP-like code keeps it, the rest is 500.
 */
import { ErrorCode, toWireError, WireError } from "../protocol/errors.ts";
import { SessionError, type SessionErrorKind } from "../session/errors.ts";
import { StoreWriteError } from "../store/write-error.ts";
import { ConfigError } from "../config/errors.ts";

/** 507 Insufficient Storage: the disk refused a write (full, read-only). */
export const STORAGE_FAILED = 507;

const CODES: Record<SessionErrorKind, number> = {
  bad_request: ErrorCode.BadRequest,
  not_found: ErrorCode.NotFound,
  conflict: ErrorCode.Conflict,
  forbidden: ErrorCode.Forbidden,
  too_large: ErrorCode.TooLarge,
  budget_exceeded: ErrorCode.BudgetExceeded,
  shutting_down: ErrorCode.ShuttingDown,
  provider_failed: ErrorCode.ProviderFailed,
  slow_subscriber: ErrorCode.SlowClient,
  storage_failed: STORAGE_FAILED,
  timeout: ErrorCode.Timeout,
  turn_failed: ErrorCode.ProviderFailed,
  internal: ErrorCode.Internal,
};

export function wireErrorOf(err: unknown): { code: number; message: string } {
  if (err instanceof SessionError) return { code: err.status || CODES[err.kind], message: err.message };
  if (err instanceof ConfigError) return { code: ErrorCode.BadRequest, message: err.message };
  if (err instanceof StoreWriteError)
    return { code: STORAGE_FAILED, message: `${err.message}; free disk space and retry` };
  return toWireError(err);
}

/** A wire error for a session error (or anything else), for handlers that must throw a WireError. */
export function asWireError(err: unknown): WireError {
  const { code, message } = wireErrorOf(err);
  return new WireError(code, message);
}
