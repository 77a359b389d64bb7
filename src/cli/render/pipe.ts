/**
 * Output to a pipe that closes early (`crabtalk replay 3 | head`) is a
 * normal way to stop reading, not an error: exit quietly with success
 * instead of printing an EPIPE stack.
 *
 * `process.stdout` is built on first use and building it loads Node's stream
 * classes (~1.5 ms of a short command's life, CPU profile of `crabtalk
 * send`). `stdout()` builds it with the guard installed; `prepareOutputSoon()`
 * does that on a timer, so a command that has just sent its request builds
 * the stream while the daemon works instead of before.
 */
const guarded = new WeakSet<NodeJS.WriteStream>();

export function exitQuietlyOnBrokenPipe(stream: NodeJS.WriteStream = process.stdout): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

/** process.stdout with the broken-pipe guard installed; every write of a command's output goes through it. */
export function stdout(): NodeJS.WriteStream {
  exitQuietlyOnBrokenPipe(process.stdout);
  return process.stdout;
}

/**
 * Builds the guarded stdout, and stderr, on the next turn of the event loop (idle time while a request is in
 * flight), so the answer is written without building them then.
 */
export function prepareOutputSoon(): void {
  setTimeout(() => {
    stdout();
    void process.stderr;
  }, 0);
}
