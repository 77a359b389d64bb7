/**
 * The store's write error, a leaf: the daemon's wire-error mapper
 * (daemon/errors.ts) needs the class before its socket accepts, not the
 * file store that throws it (issue 20).
 */

/**
 * A write the disk refused (full, read-only, I/O error): the message names
 * the file and the OS error, and the file is left as it was before the
 * write (a partial line is cut off again), so the session stays loadable.
 */
export class StoreWriteError extends Error {
  override readonly name = "StoreWriteError";
  constructor(
    readonly path: string,
    readonly osError: string,
  ) {
    super(`could not write ${path}: ${osError}`);
  }
}

/** An OS error as `CODE (what happened)` for StoreWriteError's message. */
export function osErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code} (${e.message.replace(/^\w+: /, "")})` : String(err);
}
