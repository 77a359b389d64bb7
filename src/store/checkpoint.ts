/**
 * The resume checkpoint of a session file: `<id>.jsonl.ckpt`, a JSON
 * sidecar that lets a resume read only the end of the log. Two kinds:
 * - "compaction": the fold's state (fold.ts FoldState) just before the
 *   last compaction line and that line's byte offset; the resume reads the
 *   log from that line on (the summary and the messages after it, which is
 *   all the model sees). Small, rewritten when the last compaction moves.
 * - "view": the fold's state just after a line with what the view keeps
 *   (fold.ts ViewState: the last compaction and the messages from its
 *   `replaces` on, or every message when there is none); the resume parses
 *   it in one JSON.parse and reads only the lines after that one. Written
 *   when a resume had to fold at least VIEW_MIN_TAIL_BYTES of lines that
 *   no compaction checkpoint would spare the next one (a long session
 *   never compacted, or a long stretch since the last compaction): one
 *   parse of the kept messages costs a fraction of folding their lines
 *   with the trace events between them. Its size is about that of the
 *   messages the model is sent anyway.
 *
 * Never trusted blindly. A checkpoint is used only when its version
 * matches, the file's first line (the meta line) hashes the same, and the
 * checkpointed line is still a whole line at its offset with the same hash
 * (for "compaction", also still a compaction line); otherwise (missing,
 * corrupt, another file under the same name, a file cut short) the whole
 * log is folded, exactly as load() does, and a fresh checkpoint written.
 * The log is append-only and only its torn last line is ever cut, so bytes
 * before a whole checkpointed line never change.
 *
 * Crash safety: the checkpoint is written after the log (temp file and
 * rename, no fsync: a lost, torn or stale one is detected and rebuilt). A
 * fold resumed from it whose last compaction keeps messages from before
 * the checkpoint (a caller-chosen `replaces`; the runtime never does that)
 * falls back to the whole fold, so the result always equals load()'s.
 */
import { type FileHandle, open, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { Message } from "../provider/types.ts";
import { eventPrefix, type FoldState, hash, SessionFolder, parseRecord, type ViewState } from "./fold.ts";
import { writeAtomic } from "./jsonl-files.ts";
import { firstLine, readLineBatches } from "./line-reader.ts";
import type { CompactionRecord, ResumedSession } from "./types.ts";

/** 2 added the "view" kind; a version-1 reader (an older daemon) ignores these files and rebuilds its own. */
const CHECKPOINT_VERSION = 2;

/**
 * 512 KiB of log lines left to fold (about 1,000 messages with their trace
 * events, ~1.5 ms) before a view checkpoint is worth writing: below it a
 * resume is already fast and the sidecar would only cost disk and writes.
 */
export const VIEW_MIN_TAIL_BYTES = 512 * 1024;

interface Anchor {
  v: number;
  /** Hash of the meta line: the checkpoint belongs to this file. */
  meta: string;
  /** Byte offset and length (without newline) of the checkpointed line, and its hash. */
  offset: number;
  bytes: number;
  line: string;
}

type Checkpoint =
  /** The fold's state before the compaction line at `offset`; the resume folds from that line on. */
  | (Anchor & { kind: "compaction"; state: FoldState })
  /** The fold's state after the line at `offset`, with what the view keeps; the resume folds the lines after it. */
  | (Anchor & { kind: "view"; state: ViewState });

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

function isCompaction(v: unknown): v is CompactionRecord {
  const c = v as CompactionRecord | null;
  return (
    typeof c === "object" &&
    c !== null &&
    c.kind === "compaction" &&
    typeof c.summary === "string" &&
    Number.isSafeInteger(c.replaces) &&
    c.replaces >= 0
  );
}

function isMessage(v: unknown): v is Message {
  const m = v as Message | null;
  return typeof m === "object" && m !== null && typeof m.role === "string" && typeof m.content === "string";
}

/** A view state whose kept messages are exactly those from the compaction's `replaces` (or 0) to `messages`. */
function isView(v: unknown): v is ViewState {
  if (!isState(v)) return false;
  const s = v as ViewState;
  if (!Array.isArray(s.kept) || !s.kept.every(isMessage)) return false;
  if (s.compaction !== undefined && !isCompaction(s.compaction)) return false;
  return s.messages - s.kept.length === (s.compaction?.replaces ?? 0);
}

/** Bytes read for the meta line (a few hundred in practice); a longer one is read by firstLine. */
const META_PEEK_BYTES = 4096;

/**
 * The checkpoint if every check passes (see the top of this file), else
 * undefined: never an error. `text` is the sidecar's content, `fh` the log
 * open for reading and `size` its size.
 */
async function readCheckpoint(
  path: string,
  text: string | undefined,
  fh: FileHandle,
  size: number,
): Promise<Checkpoint | undefined> {
  if (text === undefined) return undefined;
  let cp: Checkpoint;
  try {
    cp = JSON.parse(text) as Checkpoint;
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
    !(cp.kind === "compaction" ? isState(cp.state) : cp.kind === "view" && isView(cp.state))
  )
    return undefined;
  // A damaged sidecar may name any range: one past the end of the log is refused before any allocation.
  if (cp.offset + cp.bytes + 1 > size) return undefined;
  const head = Buffer.allocUnsafe(Math.min(META_PEEK_BYTES, size));
  const peeked = (await fh.read(head, 0, head.length, 0)).bytesRead;
  const nl = head.subarray(0, peeked).indexOf(0x0a);
  const meta = nl > 0 ? head.subarray(0, nl) : Buffer.from((await firstLine(path))?.text ?? "");
  if (meta.length === 0 || hash(meta) !== cp.meta) return undefined;
  // The newline before, the line itself and the newline after.
  const buf = Buffer.alloc(cp.bytes + 2);
  const { bytesRead } = await fh.read(buf, 0, buf.length, cp.offset - 1);
  if (bytesRead !== buf.length || buf[0] !== 0x0a || buf[buf.length - 1] !== 0x0a) return undefined;
  const line = buf.subarray(1, buf.length - 1);
  if (hash(line) !== cp.line) return undefined;
  if (cp.kind === "compaction" && parseRecord(line.toString("utf8"))?.kind !== "compaction") return undefined;
  return cp;
}

/**
 * JSON with every character past ASCII written as a \u escape. JSON.parse
 * gives the same value, and the text read back is a one-byte string, which
 * JavaScriptCore parses several times faster than the two-byte string any
 * non-ASCII character (a title's "…") makes of the whole file.
 */
function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

async function writeCheckpoint(path: string, cp: Checkpoint): Promise<void> {
  // Best effort: a checkpoint that cannot be written only makes the next resume read more of the log.
  await writeAtomic(dirname(path), checkpointPath(path), `${asciiJson(cp)}\n`, false).catch(() => undefined);
}

export async function removeCheckpoint(path: string): Promise<void> {
  await rm(checkpointPath(path), { force: true });
  await rm(`${checkpointPath(path)}.tmp`, { force: true });
}

export interface ResumeFold {
  session: ResumedSession;
  /**
   * Writes the view checkpoint this fold earned (see the top of this file),
   * when it did. Left to the caller so the megabytes of JSON are written
   * after the resume is answered, queued behind the session's other file
   * operations; it is computed from this fold alone, so it stays right
   * whatever is appended meanwhile.
   */
  saveView?: () => Promise<void>;
}

/**
 * Folds the session for resuming: from the checkpoint when it is valid,
 * else from the meta line; writes a new compaction checkpoint when the
 * last compaction moved, or offers a view checkpoint (saveView) when the
 * fold read a long stretch that none spares. The file must end in a whole
 * line (the store repairs a torn tail first). Undefined when the file has
 * no valid meta line.
 */
export async function foldForResume(path: string, useCheckpoint = true): Promise<ResumeFold | undefined> {
  // The sidecar is read while the log is opened (Bun's reader: megabytes decoded in a third of node:fs's time);
  // the log is opened once, for the checkpoint's checks and the fold, as a resume is a handful of file
  // operations, each a thread-pool round trip.
  const [text, fh] = await Promise.all([
    useCheckpoint
      ? Bun.file(checkpointPath(path))
          .text()
          .catch(() => undefined)
      : undefined,
    open(path, "r"),
  ]);
  try {
    return await foldFrom(path, fh, text);
  } finally {
    await fh.close();
  }
}

async function foldFrom(path: string, fh: FileHandle, text: string | undefined): Promise<ResumeFold | undefined> {
  const size = (await fh.stat()).size;
  // A sidecar that cannot be read or checked is no checkpoint: resume reads the whole log instead.
  const cp = await readCheckpoint(path, text, fh, size).catch(() => undefined);
  let folder = cp ? new SessionFolder(cp.state) : undefined;
  let metaHash = cp?.meta;
  const start = !cp ? 0 : cp.kind === "view" ? cp.offset + cp.bytes + 1 : cp.offset;
  let last: { offset: number; bytes: number; text: string; state: FoldState } | undefined;
  let end: { offset: number; bytes: number; text: string; terminated: boolean } | undefined;
  for await (const lines of readLineBatches(fh, { start, end: size })) {
    for (const line of lines) {
      end = line;
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
      if (r.kind === "compaction" && line.terminated) {
        const state = folder.state();
        // A compaction keeping messages from before its line (a caller-chosen `replaces`) cannot start a resume.
        last =
          r.replaces >= state.messages ? { offset: line.offset, bytes: line.bytes, text: line.text, state } : undefined;
      }
      folder.add(r);
    }
  }
  if (!folder || metaHash === undefined) return undefined;
  if (!folder.complete) return foldForResume(path, false);
  const meta = metaHash;
  const session = folder.finishContext();
  // What the next resume would fold without a view checkpoint: from the newest compaction checkpoint on.
  const nextStart = last?.offset ?? start;
  if (end?.terminated && end.offset + end.bytes + 1 - nextStart >= VIEW_MIN_TAIL_BYTES) {
    const anchor = {
      v: CHECKPOINT_VERSION,
      meta,
      offset: end.offset,
      bytes: end.bytes,
      line: hash(Buffer.from(end.text)),
    };
    const state = folder.view();
    return { session, saveView: () => writeCheckpoint(path, { ...anchor, kind: "view", state }) };
  }
  if (last && last.offset !== cp?.offset)
    await writeCheckpoint(path, {
      v: CHECKPOINT_VERSION,
      kind: "compaction",
      meta,
      offset: last.offset,
      bytes: last.bytes,
      line: hash(Buffer.from(last.text)),
      state: last.state,
    });
  return { session };
}
