/**
 * The resume checkpoint of a session file: `<id>.jsonl.ckpt`, a small JSON
 * sidecar holding the fold's state (fold.ts FoldState) just before the last
 * compaction line and that line's byte offset. Resuming a session then
 * reads the log from that line on (the summary and the messages after it,
 * which is all the model sees) instead of parsing every line since the
 * session began: a 100,000-message session with compactions resumes in
 * the time its last stretch takes.
 *
 * Never trusted blindly. A checkpoint is used only when its version
 * matches, the file's first line (the meta line) hashes the same, and the
 * checkpointed line is still a whole line at its offset with the same hash;
 * otherwise (missing, corrupt, another file under the same name, a file cut
 * short) the whole log is folded, exactly as load() does, and a fresh
 * checkpoint written. The log is append-only and only its torn last line is
 * ever cut, so bytes before a whole checkpointed line never change.
 *
 * Crash safety: the checkpoint is written after the log (temp file and
 * rename, no fsync: a lost or stale one is detected and rebuilt). A fold
 * resumed from it whose last compaction keeps messages from before the
 * checkpoint (a caller-chosen `replaces`; the runtime never does that)
 * falls back to the whole fold, so the result always equals load()'s.
 */
import { open, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { eventPrefix, type FoldState, hash, SessionFolder, parseRecord } from "./fold.ts";
import { writeAtomic } from "./jsonl-files.ts";
import { firstLine, readLineBatches } from "./line-reader.ts";
import type { ResumedSession } from "./types.ts";

const CHECKPOINT_VERSION = 1;

interface Checkpoint {
  v: number;
  /** Hash of the meta line: the checkpoint belongs to this file. */
  meta: string;
  /** Byte offset and length (without newline) of the compaction line, and its hash. */
  offset: number;
  bytes: number;
  line: string;
  /** The fold's state before that line. */
  state: FoldState;
}

export function checkpointPath(sessionPath: string): string {
  return `${sessionPath}.ckpt`;
}

function isState(v: unknown): v is FoldState {
  const s = v as FoldState | null;
  return (
    typeof s === "object" &&
    s !== null &&
    typeof s.summary === "object" &&
    s.summary !== null &&
    typeof s.summary.lastSeq === "number" &&
    Number.isSafeInteger(s.messages) &&
    s.messages >= 0 &&
    Number.isSafeInteger(s.corrupt) &&
    (s.openTurn === undefined || typeof s.openTurn.turnSeq === "number")
  );
}

/** The checkpoint if every check passes (see the top of this file), else undefined: never an error. */
async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  let cp: Checkpoint;
  try {
    cp = JSON.parse(await readFile(checkpointPath(path), "utf8")) as Checkpoint;
  } catch {
    return undefined;
  }
  if (
    typeof cp !== "object" ||
    cp === null ||
    cp.v !== CHECKPOINT_VERSION ||
    !Number.isSafeInteger(cp.offset) ||
    !Number.isSafeInteger(cp.bytes) ||
    cp.offset <= 0 ||
    cp.bytes <= 0 ||
    !isState(cp.state)
  )
    return undefined;
  const head = await firstLine(path);
  if (!head || hash(Buffer.from(head.text)) !== cp.meta) return undefined;
  const fh = await open(path, "r");
  try {
    // A damaged sidecar may name any range: one past the end of the log is refused before any allocation.
    if (cp.offset + cp.bytes + 1 > (await fh.stat()).size) return undefined;
    // The newline before, the line itself and the newline after.
    const buf = Buffer.alloc(cp.bytes + 2);
    const { bytesRead } = await fh.read(buf, 0, buf.length, cp.offset - 1);
    if (bytesRead !== buf.length || buf[0] !== 0x0a || buf[buf.length - 1] !== 0x0a) return undefined;
    const line = buf.subarray(1, buf.length - 1);
    if (hash(line) !== cp.line || parseRecord(line.toString("utf8"))?.kind !== "compaction") return undefined;
  } finally {
    await fh.close();
  }
  return cp;
}

async function writeCheckpoint(path: string, cp: Checkpoint): Promise<void> {
  // Best effort: a checkpoint that cannot be written only makes the next resume read the whole log.
  await writeAtomic(dirname(path), checkpointPath(path), `${JSON.stringify(cp)}\n`, false).catch(() => undefined);
}

export async function removeCheckpoint(path: string): Promise<void> {
  await rm(checkpointPath(path), { force: true });
  await rm(`${checkpointPath(path)}.tmp`, { force: true });
}

/**
 * Folds the session for resuming: from the checkpoint when it is valid,
 * else from the meta line; writes a new checkpoint when the last
 * compaction moved. The file must end in a whole line (the store repairs a
 * torn tail first). Undefined when the file has no valid meta line.
 */
export async function foldForResume(path: string, useCheckpoint = true): Promise<ResumedSession | undefined> {
  // A sidecar that cannot be read or checked is no checkpoint: resume reads the whole log instead.
  const cp = useCheckpoint ? await readCheckpoint(path).catch(() => undefined) : undefined;
  let folder = cp ? new SessionFolder(cp.state) : undefined;
  let metaHash = cp?.meta;
  let last: { offset: number; bytes: number; text: string; state: FoldState } | undefined;
  for await (const lines of readLineBatches(path, { start: cp?.offset ?? 0 })) {
    for (const line of lines) {
      const r = (folder && eventPrefix(line.text)) || parseRecord(line.text);
      if (!folder) {
        if (r?.kind !== "meta") return undefined;
        folder = new SessionFolder(r);
        metaHash = hash(Buffer.from(line.text));
        continue;
      }
      if (!r) {
        folder.corrupt++;
        continue;
      }
      if (r.kind === "compaction" && line.terminated)
        last = { offset: line.offset, bytes: line.bytes, text: line.text, state: folder.state() };
      folder.add(r);
    }
  }
  if (!folder || metaHash === undefined) return undefined;
  if (!folder.complete) return foldForResume(path, false);
  if (last && last.offset !== cp?.offset)
    await writeCheckpoint(path, {
      v: CHECKPOINT_VERSION,
      meta: metaHash,
      offset: last.offset,
      bytes: last.bytes,
      line: hash(Buffer.from(last.text)),
      state: last.state,
    });
  return folder.finishContext();
}
