/**
 * The exit codes scripts can trust (0 success, 1 failure, 2 usage error) and
 * the failure type main.ts turns into one. A leaf module: main.ts reads it
 * before any command is loaded, so `crabtalk --version` loads nothing else.
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure already explained to the user; main exits with `code` and prints `message`. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = "CliFailure";
  }
}
