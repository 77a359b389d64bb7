/**
 * File-level operations of the JSONL session store: summarizing a session
 * file from its head and tail, repairing a torn last line, and the durable
 * small writes (the id counter) whose loss would break "ids are never
 * reused"; new session files are created by append-handles.ts. Kept apart from jsonl.ts so the store class reads as policy.
 */
import { appendFile, type FileHandle, open, readdir, rename, truncate, unlink } from "node:fs/promises";
import { collectNow } from "../util/collect.ts";
import type { AppendHandles } from "./append-handles.ts";
import { Semaphore } from "../util/semaphore.ts";
import { applyToSummary, isSnapshot, parseRecord, SessionFolder, summaryFromMeta } from "./fold.ts";
import { BIG_TEXT_CHARS, linePieces, textChars } from "./line-pieces.ts";
import { firstLine, readLines, readTail, unterminatedTail } from "./line-reader.ts";
import type { MetaRecord, SessionSummary, StoredRecord, TornLine } from "./types.ts";
import { osErrorText, StoreWriteError } from "./write-error.ts";

export { StoreWriteError };

/**
 * How much of a file's end is read to find the last totals snapshot. The
 * store writes one at every turn end, so the lines after it are at most one
 * turn's worth; 64 KiB covers that unless a turn carries huge tool
 * results, in which case a full streaming scan is the (correct) fallback.
 */
const TAIL_BYTES = 64 * 1024;
/** Tried before TAIL_BYTES: listing many sessions then reads a few KiB of each, not 64. */
const SMALL_TAIL_BYTES = 8 * 1024;

const PREVIEW_CHARS = 120;

async function readMeta(path: string): Promise<MetaRecord | undefined> {
  const head = await firstLine(path);
  const meta = head ? parseRecord(head.text) : undefined;
  return meta?.kind === "meta" ? meta : undefined;
}

/**
 * The session's summary without holding its messages: meta line, then the
 * last snapshot in the tail plus the records after it; a streaming fold of
 * the whole file when the tail holds no snapshot. Undefined when the file
 * has no valid meta line (a create that crashed before its first fsync).
 */
export async function summarizeFile(path: string): Promise<SessionSummary | undefined> {
  const meta = await readMeta(path);
  if (!meta) return undefined;
  const s = summaryFromMeta(meta);
  // The last snapshot is almost always in the last few lines (one is written at every turn end): look in a
  // small tail first, then in TAIL_BYTES; lines are parsed from the end only back to that snapshot.
  for (const bytes of [SMALL_TAIL_BYTES, TAIL_BYTES]) {
    const tail = await readTail(path, bytes);
    const records: (StoredRecord | undefined)[] = new Array(tail.lines.length);
    let from = -1;
    for (let i = tail.lines.length - 1; i >= 0; i--) {
      const r = parseRecord(tail.lines[i]!.text);
      records[i] = r;
      if (r && isSnapshot(r)) {
        from = i;
        break;
      }
    }
    if (from >= 0 || tail.whole) {
      for (let i = Math.max(from, 0); i < records.length; i++) {
        const r = records[i];
        if (r && r.kind !== "meta") applyToSummary(s, r);
      }
      return s;
    }
  }
  let first = true;
  for await (const line of readLines(path)) {
    if (first) {
      first = false;
      continue;
    }
    const r = parseRecord(line.text);
    if (r) applyToSummary(s, r);
  }
  return s;
}

/**
 * Makes the file end in a newline so the next append starts a fresh line.
 * An unterminated last line that parses as a record only lacks its
 * newline (the write got through whole) and gets one. Anything else is a
 * torn write: its bytes are moved to `<file>.torn` (kept for inspection,
 * never read back) and the file is truncated to its last whole line.
 * Returns what was torn, undefined when nothing was. The newline goes
 * through `handles` (the caller has closed the path's handle first: a cut
 * file must be reopened at its new end).
 */
export async function repairTail(
  handles: AppendHandles,
  path: string,
  tornPath: string,
  sync: boolean,
): Promise<TornLine | undefined> {
  const tail = await unterminatedTail(path);
  if (!tail) return undefined;
  const text = new TextDecoder().decode(tail.fragment);
  if (parseRecord(text)) {
    await handles.append(path, "\n", sync);
    return undefined;
  }
  await appendFile(tornPath, Buffer.concat([tail.fragment, Buffer.from("\n")]), { mode: 0o600 });
  await truncate(path, tail.offset);
  if (sync) await syncFile(path);
  return { offset: tail.offset, bytes: tail.fragment.length, preview: text.slice(0, PREVIEW_CHARS) };
}

export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** fsync of a directory makes a created, renamed or deleted entry survive a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces a small file atomically: write a temp file, fsync it, rename over, fsync the directory. A failed
 * write (ENOSPC) removes the temp file, leaves `path` as it was, and throws a StoreWriteError (507 on the wire).
 */
export async function writeAtomic(dir: string, path: string, data: string | Uint8Array, sync: boolean): Promise<void> {
  const tmp = `${path}.tmp`;
  let fh: FileHandle;
  try {
    fh = await open(tmp, "w", 0o600);
  } catch (err) {
    throw new StoreWriteError(tmp, osErrorText(err));
  }
  try {
    await fh.writeFile(data);
    if (sync) await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new StoreWriteError(tmp, osErrorText(err));
  }
  await fh.close();
  await rename(tmp, path);
  if (sync) await syncDir(dir);
}

/**
 * Big records (a 16 MB answer) of all sessions are written one at a time,
 * each followed by a collection (see collectNow): reading a just-streamed
 * answer flattens it, and six answers ending together would otherwise hold
 * six texts' worth of garbage at once.
 */
const bigLines = new Semaphore(1);

/** Appends `records` as whole lines through `handles` (see AppendHandles.append for a refused write). */
export async function writeLines(
  handles: AppendHandles,
  path: string,
  records: readonly StoredRecord[],
  sync: boolean,
  onSyncing?: () => void,
): Promise<void> {
  const big = records.some((r) => textChars(r) >= BIG_TEXT_CHARS);
  const release = big ? await bigLines.acquire() : undefined;
  try {
    await handles.append(path, linePieces(records), sync, onSyncing);
    if (big) collectNow();
  } finally {
    release?.();
  }
}

/** Every line of the log folded, from its meta line on; undefined when it does not start with one. */
export async function foldWholeLog(path: string): Promise<SessionFolder | undefined> {
  let folder: SessionFolder | undefined;
  for await (const line of readLines(path)) {
    const r = parseRecord(line.text);
    if (!folder) {
      if (r?.kind !== "meta") return undefined;
      folder = new SessionFolder(r);
    } else if (r) folder.add(r);
    else folder.corrupt++;
  }
  return folder;
}

/** A session's log file name: `<id>.jsonl`. */
const SESSION_FILE = /^(\d+)\.jsonl$/;

/** A catch handler: `fallback` for a file or directory that does not exist, any other error rethrown. */
export function whenMissing<T>(fallback: T): (err: unknown) => T {
  return (err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return fallback;
    throw err;
  };
}

/** The ids of the session files in `dir`. */
export async function scanIds(dir: string): Promise<number[]> {
  const ids: number[] = [];
  for (const name of await readdir(dir)) {
    const m = SESSION_FILE.exec(name);
    if (m) ids.push(Number(m[1]));
  }
  return ids;
}
