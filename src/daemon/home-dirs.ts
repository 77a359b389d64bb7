/**
 * The home directory and the folders that hold private data (transcripts,
 * logs, token usage), checked before anything is written there. The daemon
 * creates what is missing with mode 0700 and never changes the mode of
 * something it did not create: a home pointed at a shared directory, or a
 * sessions/ symlinked elsewhere, is the user's to fix, so start-up refuses
 * with the exact command instead of silently chmodding it.
 *
 * Policy for an existing path (judgeDir):
 * - ours and private (no group/other bits): used as is, also through a symlink;
 * - ours and open: refused, with `chmod 700 <the real directory>`;
 * - another user's and open, reached directly: a warning, left alone (a
 *   shared CRABTALK_HOME is the admin's decision; our files in it are 0600,
 *   our folders 0700);
 * - another user's, reached through a symlink: refused (the link redirects
 *   private data into someone else's directory);
 * - not a directory, or a dangling link: refused.
 * The lock and TCP port file paths are checked too: a directory there is refused, not removed.
 */
import { lstatSync, mkdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Paths } from "../config/paths.ts";
import { judgeDir, type DirStat } from "../config/home-policy.ts";
import { StartupError } from "./startup-error.ts";

function lstatOrUndefined(path: string) {
  return lstatSync(path, { throwIfNoEntry: false });
}

/** Checks one directory, creating it (0700, with missing parents) when absent. Returns a warning, if any. */
function ensureDir(path: string, holds: string, myUid: number): string | undefined {
  const link = lstatOrUndefined(path);
  if (link === undefined) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    return undefined;
  }
  let target: DirStat | undefined;
  let real = path;
  if (link.isSymbolicLink()) {
    target = statSync(path, { throwIfNoEntry: false });
    try {
      real = realpathSync(path);
    } catch {
      real = path;
    }
  }
  const verdict = judgeDir(path, link, target, real, myUid, holds);
  if (verdict.action === "refuse") throw new StartupError(verdict.message);
  return verdict.action === "warn" ? verdict.message : undefined;
}

/**
 * Prepares the home and its private folders, or throws StartupError with the
 * fix. Returns warnings to log once logging is set up. Off POSIX (no uid) the
 * owner checks are skipped and only missing folders are created.
 */
export function prepareHome(paths: Paths): string[] {
  const myUid = process.getuid?.();
  const folders: [string, string][] = [
    [paths.home, "its socket, config, transcripts and logs"],
    [paths.sessions, "session transcripts"],
    [paths.logs, "its logs"],
    [join(paths.home, "usage"), "token usage"], // the ledger's folder (assemble.ts)
  ];
  const warnings: string[] = [];
  for (const [path, holds] of folders) {
    if (myUid === undefined) {
      mkdirSync(path, { recursive: true, mode: 0o700 });
      continue;
    }
    const warning = ensureDir(path, holds, myUid);
    if (warning) warnings.push(warning);
  }
  // Files the daemon creates and removes each run: a directory in their place is not ours to delete.
  for (const [path, what] of [
    [paths.lock, "lock file"],
    [paths.tcpPortFile, "TCP port file"],
  ] as const) {
    if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory())
      throw new StartupError(
        `${path} is a directory, where the daemon keeps its ${what}. Fix: move it out of the way (mv ${path} ${path}.old)`,
      );
  }
  return warnings;
}
