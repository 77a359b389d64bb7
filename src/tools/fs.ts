/**
 * The file operations the read, write and edit tools need, as a small
 * pluggable interface (the real filesystem by default, anything else in
 * tests or for a sandbox), plus how a tool path resolves: against the
 * agent's cwd, with ~ meaning the user's home.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

export interface FileStat {
  size: number;
  isFile: boolean;
  isDirectory: boolean;
}

export interface FileOperations {
  /** Undefined when nothing exists at `path`. */
  stat(path: string): Promise<FileStat | undefined>;
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, data: string): Promise<void>;
  /** mkdir -p. */
  mkdirp(path: string): Promise<void>;
}

export const nodeFileOperations: FileOperations = {
  async stat(path) {
    try {
      const s = await stat(path);
      return { size: s.size, isFile: s.isFile(), isDirectory: s.isDirectory() };
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return undefined;
      throw err;
    }
  },
  readFile: (path) => readFile(path),
  writeFile: (path, data) => writeFile(path, data),
  async mkdirp(path) {
    await mkdir(path, { recursive: true });
  },
};

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

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}
