/**
 * A reason the daemon will not start that the user fixes on their machine (a
 * directory too open, a path in the way). `crabtalk daemon` prints the
 * message as one line and exits 1; the message carries the fix.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}
