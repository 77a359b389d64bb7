/**
 * Errors a client sees: the daemon is not there, the daemon answered an
 * ErrorMsg, or the connection went away mid-request.
 */
export class DaemonNotRunning extends Error {
  constructor(
    readonly endpoint: string,
    cause?: string,
  ) {
    super(
      `crabtalk daemon is not running (nothing accepts connections at ${endpoint}${cause ? `: ${cause}` : ""}). Start it with \`crabtalk daemon\`.`,
    );
    this.name = "DaemonNotRunning";
  }
}

/** The daemon's ErrorMsg, as an exception. `code` follows HTTP meanings (see protocol/errors.ts). */
export class DaemonError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "DaemonError";
  }
}

export class Disconnected extends Error {
  constructor() {
    super("the connection to the daemon closed before the reply arrived");
    this.name = "Disconnected";
  }
}
