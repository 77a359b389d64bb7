/**
 * The file operations the read, write and edit tools need, as a small
 * pluggable interface (the real filesystem by default, anything else in
 * tests or for a sandbox), plus how a tool path resolves: against the
 * agent's cwd, with ~ meaning the user's home.
 *
 * Contract of the real operations: they touch regular files only. A path is
 * opened with O_NONBLOCK and the opened descriptor is checked with fstat, so
 * a named pipe, a device or a socket is refused without ever blocking (and a
 * swap of the path between a check and the open cannot slip one through).
 * Symlinks are followed: a link to a regular file is a regular file. The
 * daemon's own /proc entries are refused too, because the tools run inside
 * the daemon process and /proc/self/environ would be its environment. Every
 * operation runs under the daemon-wide tool I/O limit (io-limit.ts).
 */
import { constants } from "node:fs";
import { mkdir, open, readlink, stat, type FileHandle } from "node:fs/promises";
import type { Stats } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { toolIo } from "./io-limit.ts";

export type FileKind =
  | "regular file"
  | "directory"
  | "named pipe (FIFO)"
  | "socket"
  | "character device"
  | "block device"
  | "symbolic link"
  | "special file";

export interface FileStat {
  size: number;
  kind: FileKind;
  isFile: boolean;
  isDirectory: boolean;
}

export interface FileOperations {
  /** Undefined when nothing exists at `path`; follows symlinks. */
  stat(path: string): Promise<FileStat | undefined>;
  /** A regular file's bytes; throws FileRefusal for anything else or for more than `maxBytes`. */
  readFile(path: string, maxBytes: number): Promise<Uint8Array>;
  /** Creates or replaces a regular file's content; throws FileRefusal when `path` is not a regular file. */
  writeFile(path: string, data: string): Promise<void>;
  /** mkdir -p. */
  mkdirp(path: string): Promise<void>;
}

/** Files larger than this are refused by read and edit: about 2.5M tokens, far past any context window. */
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;

/** A file the tools will not touch; the message is the whole explanation for the model. */
export class FileRefusal extends Error {}

export function kindOf(s: Stats): FileKind {
  if (s.isFile()) return "regular file";
  if (s.isDirectory()) return "directory";
  if (s.isFIFO()) return "named pipe (FIFO)";
  if (s.isSocket()) return "socket";
  if (s.isCharacterDevice()) return "character device";
  if (s.isBlockDevice()) return "block device";
  if (s.isSymbolicLink()) return "symbolic link";
  return "special file";
}

export function notRegular(path: string, kind: FileKind): FileRefusal {
  return new FileRefusal(
    `${path} is a ${kind}, not a regular file; read, write and edit only work on regular files (use bash for anything else)`,
  );
}

/** Read chunk: big enough that a 10 MB file takes few pool round trips. */
const READ_CHUNK = 256 * 1024;

export const nodeFileOperations: FileOperations = {
  stat: (path) =>
    toolIo.run(async () => {
      try {
        const s = await stat(path);
        return { size: s.size, kind: kindOf(s), isFile: s.isFile(), isDirectory: s.isDirectory() };
      } catch (err) {
        if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return undefined;
        throw err;
      }
    }),
  readFile: (path, maxBytes) =>
    toolIo.run(async () => {
      const fh = await openRegular(path, constants.O_RDONLY);
      try {
        // Read to EOF rather than trusting st_size: /proc and sysfs files report 0.
        const chunks: Uint8Array[] = [];
        let total = 0;
        for (;;) {
          const buf = new Uint8Array(Math.min(READ_CHUNK, maxBytes + 1 - total));
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          chunks.push(buf.subarray(0, bytesRead));
          total += bytesRead;
          if (total > maxBytes) throw new FileRefusal(`${path} is over the ${formatBytes(maxBytes)} limit`);
        }
        return Buffer.concat(chunks);
      } finally {
        await fh.close();
      }
    }),
  writeFile: (path, data) =>
    toolIo.run(async () => {
      // No O_TRUNC: nothing is changed until the descriptor is known to be a regular file.
      const fh = await openRegular(path, constants.O_WRONLY | constants.O_CREAT);
      try {
        await fh.truncate(0);
        await fh.writeFile(data);
      } finally {
        await fh.close();
      }
    }),
  mkdirp: (path) =>
    toolIo.run(async () => {
      await mkdir(path, { recursive: true });
    }),
};

/** Opens without blocking and returns the handle only if it is a regular file outside the daemon's own /proc. */
async function openRegular(path: string, flags: number): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, flags | constants.O_NONBLOCK, 0o666);
  } catch (err) {
    // ENXIO: a FIFO with no reader, or a socket, opened for writing. EISDIR: a directory opened for writing.
    if (isErrno(err, "ENXIO") || isErrno(err, "EISDIR")) {
      const s = await stat(path).catch(() => undefined);
      throw notRegular(path, s ? kindOf(s) : "special file");
    }
    throw err;
  }
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw notRegular(path, kindOf(s));
    await refuseOwnProc(path, fh.fd);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** /proc/<pid>, /proc/<tid of one of our threads>, seen through whatever path (self, symlinks) was opened. */
async function refuseOwnProc(path: string, fd: number): Promise<void> {
  if (process.platform !== "linux") return;
  const target = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
  const m = /^\/proc\/(\d+)(\/|$)/.exec(target);
  if (!m) return;
  const id = Number(m[1]);
  const ours =
    id === process.pid ||
    (await stat(`/proc/self/task/${id}`).then(
      () => true,
      () => false,
    ));
  if (ours)
    throw new FileRefusal(
      `${path} is the daemon's own process information (${target}); tools may not read or write it`,
    );
}

/** An absolute path for `p`: `~` and `~/x` are the user's home, relative paths are under `cwd`. */
export function resolveToolPath(cwd: string, p: string, home: string = process.env.HOME || homedir()): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return join(home, p.slice(2));
  return isAbsolute(p) ? resolve(p) : resolve(cwd, p);
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && "code" in err && err.code === code;
}

/** A tool error that reaches the model as an `isError` result with this message. */
export function failure(output: string): { output: string; isError: true } {
  return { output, isError: true };
}

/** Runs a tool body, turning a FileRefusal into the error result it describes. */
export async function refusalsAsResults<T>(body: () => Promise<T>): Promise<T | { output: string; isError: true }> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof FileRefusal) return failure(err.message);
    throw err;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}
