/**
 * Wire error codes and the one exception type handlers throw to answer an
 * ErrorMsg. Codes follow HTTP meanings so any client can read them.
 * Handlers return values and throw WireError (or anything else, which maps
 * to 500); dispatch turns both into ErrorMsg frames in one place.
 */
export const ErrorCode = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  SlowClient: 408,
  TooLarge: 413,
  BudgetExceeded: 429,
  Internal: 500,
  NotImplemented: 501,
  ProviderFailed: 502,
  ShuttingDown: 503,
  Timeout: 504,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class WireError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "WireError";
  }
}

/** Any error carrying an HTTP-like numeric `code` (WireError, the store's SessionNotFoundError, SlowSubscriber) keeps it. */
export function toWireError(err: unknown): { code: number; message: string } {
  if (err instanceof WireError) return { code: err.code, message: err.message };
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === "number" && code >= 400 && code < 600)
    return { code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: ErrorCode.Internal, message: `internal error: ${message}` };
}
