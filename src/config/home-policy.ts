/**
 * The home folders' permission policy, as a pure function: what to do with
 * an existing folder (use it, warn and leave it, or refuse with the fix)
 * given its mode, owner and whether it is a symlink. The daemon applies it
 * at start (daemon/home-dirs.ts); `crabtalk doctor` reports with it.
 */

/** The parts of fs.Stats the policy reads, so tests can describe a directory without creating one. */
export interface DirStat {
  mode: number;
  uid: number;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

export type DirVerdict =
  | { action: "use" }
  | { action: "warn"; message: string }
  | { action: "refuse"; message: string };

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0");

/**
 * What to do with an existing `path` whose lstat is `link` and, when it is a
 * symlink, whose target (`target`, undefined when dangling) resolves to `real`.
 */
export function judgeDir(
  path: string,
  link: DirStat,
  target: DirStat | undefined,
  real: string,
  myUid: number,
  holds: string,
): DirVerdict {
  const viaLink = link.isSymbolicLink();
  const st = viaLink ? target : link;
  const shown = viaLink ? `${path} (a symlink to ${real})` : path;
  if (st === undefined)
    return {
      action: "refuse",
      message: `${shown} points to nothing. Fix: remove the link (rm ${path}) or create its target with mkdir -m 700 ${real}`,
    };
  if (!st.isDirectory())
    return {
      action: "refuse",
      message: `${shown} is not a directory; crabtalk keeps ${holds} there. Fix: move it out of the way (mv ${path} ${path}.old)`,
    };
  const open = (st.mode & 0o077) !== 0;
  if (st.uid !== myUid) {
    if (viaLink)
      return {
        action: "refuse",
        message: `${shown} belongs to uid ${st.uid}, not to uid ${myUid} that runs the daemon; crabtalk will not keep ${holds} in another user's directory. Fix: rm ${path} && mkdir -m 700 ${path}`,
      };
    if (open)
      return {
        action: "warn",
        message: `${path} belongs to uid ${st.uid} and is open to other users (mode ${octal(st.mode)}); crabtalk leaves it as it is and keeps its own files private (0600, folders 0700). A home of your own is safer: set CRABTALK_HOME to a directory with mode 0700`,
      };
    return { action: "use" };
  }
  if (open)
    return {
      action: "refuse",
      message: `${shown} is open to other users (mode ${octal(st.mode)}), and crabtalk keeps ${holds} there; it does not change modes of directories it did not create. Fix: chmod 700 ${real}`,
    };
  return { action: "use" };
}
