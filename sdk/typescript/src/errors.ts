/**
 * The errors a crabtalk client throws, as classes a program can catch by
 * type: the daemon is not there, the connection went away, or the daemon
 * answered ErrorMsg (DaemonError, with a subclass for each code a client
 * acts on). Codes follow HTTP meanings (proto/crabtalk.proto, ErrorMsg).
 */

/** Base of every error this package throws. */
export class CrabtalkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Nothing accepts connections where the client looked. */
export class DaemonNotRunning extends CrabtalkError {
  constructor(
    readonly endpoint: string,
    readonly reason?: string,
  ) {
    super(
      `crabtalk daemon is not running (nothing accepts connections at ${endpoint}${reason ? `: ${reason}` : ""}); start it with \`crabtalk daemon\``,
    );
  }
}

/** A TLS certificate did not match its pin (the `fingerprint` option, or the known-hosts file). */
export class CertificateRefused extends CrabtalkError {}

/** The connection closed before the reply (or the end of the stream) arrived. */
export class Disconnected extends CrabtalkError {
  constructor(reason = "the connection to the daemon closed before the reply arrived") {
    super(reason);
  }
}

/** The daemon answered ErrorMsg{code, message}. */
export class DaemonError extends CrabtalkError {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`${message} (code ${code})`);
  }
}

/** 400: the request is malformed. */
export class BadRequest extends DaemonError {}
/** 401: the token is missing, wrong or revoked (remote TCP needs one). */
export class Unauthorized extends DaemonError {}
/** 403: the daemon serves another user, or the token's scope does not allow this. */
export class Forbidden extends DaemonError {}
/** 404: no such session, agent or call. */
export class NotFound extends DaemonError {}
/** 408: this client fell too far behind and was dropped; re-attach from the last seq (the SDK does). */
export class SlowClient extends DaemonError {}
/** 409: the request conflicts with the current state (a call already answered...). */
export class Conflict extends DaemonError {}
/** 429: the token budget is spent. */
export class BudgetExceeded extends DaemonError {}
/** 502: the model provider failed. */
export class ProviderFailed extends DaemonError {}
/** 503: the daemon is shutting down. */
export class ShuttingDown extends DaemonError {}

const BY_CODE: Record<number, new (code: number, message: string) => DaemonError> = {
  400: BadRequest,
  401: Unauthorized,
  403: Forbidden,
  404: NotFound,
  408: SlowClient,
  409: Conflict,
  429: BudgetExceeded,
  502: ProviderFailed,
  503: ShuttingDown,
};

/** The typed error for an ErrorMsg. */
export function daemonError(code: number, message: string): DaemonError {
  return new (BY_CODE[code] ?? DaemonError)(code, message);
}
