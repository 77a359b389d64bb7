/**
 * Output to a pipe that closes early (`crabtalk replay 3 | head`) is a
 * normal way to stop reading, not an error: exit quietly with success
 * instead of printing an EPIPE stack.
 */
export function exitQuietlyOnBrokenPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}
