/**
 * Output to a pipe that closes early (`crabtalk replay 3 | head`) is a
 * normal way to stop reading, not an error: exit quietly with success
 * instead of printing an EPIPE stack.
 *
 * `process.stdout` is built on first use and building it loads Node's stream
 * classes (1.5–6 ms of a short command's life: CPU profile of `crabtalk
 * send`, and a compiled probe that only reads `process.stdout.isTTY`).
 * `stdout()` builds it with the guard installed. A command that prints one
 * result (`send`) does not need it when the output is not a terminal:
 * `probeOutputSoon()` finds out what fds 1 and 2 are while the daemon works,
 * and `writeOut()` writes to a pipe or file without building the stream.
 */
import { CliFailure } from "../failure.ts";

const guarded = new WeakSet<NodeJS.WriteStream>();

export function exitQuietlyOnBrokenPipe(stream: NodeJS.WriteStream = process.stdout): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

/** Whether stdout() built the stream, and whether writeOut() wrote straight to the descriptor (see stdoutNeedsFlush). */
let streamBuilt = false;
let wroteDirect = false;

/** process.stdout with the broken-pipe guard installed; every write of a command's output goes through it. */
export function stdout(): NodeJS.WriteStream {
  streamBuilt = true;
  exitQuietlyOnBrokenPipe(process.stdout);
  return process.stdout;
}

/** Whether stdout and stderr are terminals (what `process.stdout.isTTY` and `process.stderr.isTTY` say). */
export interface OutputKind {
  stdoutTTY: boolean;
  stderrTTY: boolean;
}

/**
 * OutputKind, found on the next turn of the event loop (idle time while a request is in flight) by the C
 * library's isatty(3) through bun:ffi (~0.3 ms, measured in a compiled probe): no Node stream is built and no
 * thread pool started (an fstat through Bun's file starts one, and the process then paid ~1.4 ms more on
 * `crabtalk send`). Where the library cannot be opened (a musl system), the streams are asked, as before.
 */
export function probeOutputSoon(): Promise<OutputKind> {
  return new Promise((resolve) =>
    setTimeout(() => {
      void libcIsatty().then((isatty) =>
        resolve(
          isatty
            ? { stdoutTTY: isatty(1), stderrTTY: isatty(2) }
            : { stdoutTTY: stdout().isTTY === true, stderrTTY: process.stderr.isTTY === true },
        ),
      );
    }, 0),
  );
}

const LIBC: Partial<Record<NodeJS.Platform, string>> = { linux: "libc.so.6", darwin: "/usr/lib/libSystem.B.dylib" };

async function libcIsatty(): Promise<((fd: number) => boolean) | undefined> {
  const name = LIBC[process.platform];
  if (!name) return undefined;
  try {
    const { dlopen, FFIType } = await import("bun:ffi");
    const libc = dlopen(name, { isatty: { args: [FFIType.i32], returns: FFIType.i32 } });
    return (fd) => libc.symbols.isatty(fd) === 1;
  } catch {
    return undefined;
  }
}

/**
 * Writes `text` to stdout: through the guarded stream on a terminal, straight to the descriptor otherwise
 * (no Node stream is built). A reader that closed the pipe early ends the command quietly with success, as
 * the guard does; any other write failure is a CliFailure (exit 1) saying what failed.
 */
export async function writeOut(text: string, kind: OutputKind): Promise<void> {
  if (kind.stdoutTTY) {
    stdout().write(text);
    return;
  }
  wroteDirect = true;
  try {
    await Bun.write(Bun.stdout, text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EPIPE") process.exit(0);
    throw new CliFailure(`could not write the answer to stdout: ${(err as Error).message}`);
  }
}

/**
 * Whether the process must wait for process.stdout to drain before it exits: false only for a command whose
 * output all went straight to the descriptor (writeOut, finished when it resolves) and that never built the
 * stream through stdout(); asking the stream would build it just to learn it is empty. Any command that did
 * not use writeOut keeps the wait.
 */
export function stdoutNeedsFlush(): boolean {
  return streamBuilt || !wroteDirect;
}
