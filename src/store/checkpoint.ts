/**
 * The resume checkpoint of a session file: `<id>.jsonl.ckpt`, a sidecar
 * that lets a resume read only the end of the log. Two kinds:
 * - "compaction": one JSON line, the fold's state (fold.ts FoldState) just
 *   before the last compaction line and that line's byte offset; the
 *   resume reads the log from that line on (the summary and the messages
 *   after it, which is all the model sees). Small, rewritten when the last
 *   compaction moves.
 * - "view": the fold's state just after a line with what the view keeps
 *   (fold.ts ViewState: the last compaction and the messages from its
 *   `replaces` on, or every message when there is none); the resume
 *   decodes it and reads only the lines after that one. A JSON header
 *   line, then the messages encoded by view-codec.ts (columns of numbers
 *   and their text end to end): decoding 10,000 messages takes about a
 *   fifth of the time JSON.parse took on them, which was most of a resume
 *   of a long never-compacted session. Beside it, when the store was given
 *   an encoder, the request prefix (`<id>.jsonl.prefix`, request-prefix.ts).
 *   Written when a resume had to fold at least VIEW_MIN_TAIL_BYTES of lines
 *   that no compaction checkpoint would spare the next one (a long session
 *   never compacted, or a long stretch since the last compaction), and
 *   rewritten once the lines after it reach viewRefreshBytes (an eighth of
 *   its own size). Its size is about that of the messages the model is
 *   sent anyway (and the prefix's, about that of their JSON).
 *
 * Never trusted blindly. A checkpoint is used only when its version
 * matches, its sum (see seal) still covers every byte of it, the log's
 * first line (the meta line) hashes the same, and the checkpointed line
 * is still a whole line at its offset with the same hash (for
 * "compaction", also still a compaction line; for "view", its messages
 * also decode with every count checked);
 * otherwise (missing, corrupt, another file under the same name, a file
 * cut short) the whole log is folded, exactly as load() does, and a fresh
 * checkpoint written.
 * The log is append-only and only its torn last line is ever cut, so bytes
 * before a whole checkpointed line never change.
 *
 * Crash safety: the checkpoint is written after the log (temp file and
 * rename, no fsync: a lost, torn or stale one is detected and rebuilt). A
 * fold resumed from it whose last compaction keeps messages from before
 * the checkpoint (a caller-chosen `replaces`; the runtime never does that)
 * falls back to the whole fold, so the result always equals load()'s.
 */
import { fstatSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { EncodedPrefix } from "../provider/types.ts";
import { eventPrefix, type FoldState, hash, SessionFolder, parseRecord, type ViewState } from "./fold.ts";
import { writeAtomic } from "./jsonl-files.ts";
import { firstLine, type Line, readLineBatches } from "./line-reader.ts";
import { ReadDescriptor } from "./read-descriptor.ts";
import {
  checkPrefix,
  encodeViewPrefix,
  isPrefixHeader,
  type PrefixHeader,
  prefixFits,
  prefixHeader,
  readPrefixBytes,
  removePrefixFile,
  type RequestPrefixEncoder,
  writePrefixFile,
} from "./request-prefix.ts";
import type { CompactionRecord, DeferredMessages, ResumedSession } from "./types.ts";
import { decodeMessages, decodeMessagesSplit, type EncodedMessages, encodeMessages } from "./view-codec.ts";

/**
 * 3: the view kind's messages are columns and text after its first line
 * (view-codec.ts) instead of JSON in it, and every file carries its sum.
 * A version-2 "compaction" file (the same layout, no sum) is still read,
 * as before; a version-2 "view" file is rebuilt. A version-2 reader (an
 * older daemon) ignores version-3 files and rebuilds its own.
 */
const CHECKPOINT_VERSION = 3;

/**
 * 512 KiB of log lines left to fold (about 1,000 messages with their trace
 * events, ~1.5 ms) before a view checkpoint is worth writing: below it a
 * resume is already fast and the sidecar would only cost disk and writes.
 */
export const VIEW_MIN_TAIL_BYTES = 512 * 1024;

/** The least tail that moves a view checkpoint (see viewRefreshBytes): about 0.1 ms of folding. */
export const VIEW_REFRESH_MIN_BYTES = 64 * 1024;

/**
 * Log bytes after a view checkpoint of `viewBytes` that a resume folds before
 * it writes the view again at the log's end: an eighth of the view, at
 * least VIEW_REFRESH_MIN_BYTES, at most VIEW_MIN_TAIL_BYTES. Folding those
 * lines is then a small part of a resume next to decoding the view (10,000
 * messages: 1.2 ms with an empty tail, 2.0 ms with 500 KB of it), while a
 * rewrite (only by a resume, written once its turn has ended: see
 * JsonlSessionStore.saveLater) writes at most eight bytes of sidecar per
 * byte the log grew since the last.
 */
export function viewRefreshBytes(viewBytes: number): number {
  return Math.min(VIEW_MIN_TAIL_BYTES, Math.max(VIEW_REFRESH_MIN_BYTES, Math.floor(viewBytes / 8)));
}

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
  | (Anchor & { kind: "view"; state: ViewState; head?: DeferredMessages });

/**
 * A view checkpoint's first line. The kept messages follow it, encoded
 * (view-codec.ts): the columns as little-endian float64s (the line is
 * padded with spaces so they start at a multiple of 8 and are read in
 * place), then the text, UTF-8, to the end of the file. A compaction
 * checkpoint is its first line alone.
 *
 * It may name a request prefix file (request-prefix.ts). A file of its
 * own, not a part of this one: its bytes (about those of the messages'
 * JSON) then add nothing to the checkpoint's read, sum or decode on the
 * resume's path, and the checkpoint keeps the layout earlier daemons read.
 */
interface ViewHeader extends Anchor {
  kind: "view";
  /** The fold's state and the last compaction, without the kept messages. */
  state: FoldState & { compaction?: CompactionRecord };
  /** How many messages are kept, and how many columns encode them. */
  kept: number;
  columns: number;
  strings: EncodedMessages["strings"];
  other: EncodedMessages["other"];
  /** The request prefix file, when there is one (request-prefix.ts). */
  prefix?: PrefixHeader;
  /** Over the line before it and every byte after the line (see seal). */
  sum: string;
}

/** A compaction checkpoint's only line; a version-2 one has no sum. */
type Header = (Anchor & { kind: "compaction"; state: FoldState; sum?: string }) | ViewHeader;

/**
 * The sum that closes a checkpoint's first line, `,"sum":"<hex>"}`: <hex>
 * hashes the bytes of the line before it, then everything after the line
 * (a view's messages). A byte changed anywhere (the fold's state, a model
 * name, a kept message's text or length, the sum itself) is caught before
 * anything of the file is used: the state it holds is trusted as written
 * (its lastSeq numbers the session's next events), so no field may go
 * unchecked. The sequence `,"sum":"` cannot occur inside a JSON string
 * (its quotes would be escaped), and the seal is the line's last one.
 */
const SUM_KEY = Buffer.from(',"sum":"');
const EMPTY = new Uint8Array(0);

const sum = (head: Uint8Array, body: Uint8Array): string => Bun.hash(body, Bun.hash(head)).toString(16);

/** `json` (an object's JSON, ASCII) with its sum over itself and `body` added as its last field. */
function seal(json: string, body: Uint8Array): string {
  const open = json.slice(0, -1);
  return `${open},"sum":"${sum(Buffer.from(open), body)}"}`;
}

/** The bytes of the first line `line` that its sum covers: those before the seal (undefined when it has none). */
function sealedHead(line: Uint8Array): Uint8Array | undefined {
  const at = Buffer.from(line.buffer, line.byteOffset, line.length).lastIndexOf(SUM_KEY);
  return at > 0 ? line.subarray(0, at) : undefined;
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

/**
 * Not `fatal`: Bun's fatal decoder validates on a slow path (0.14 ms for the
 * text of 10,000 messages, against 0.01 ms). The view's text is protected by
 * its sum, and its writer only writes well-formed strings; a header that
 * decodes to something else fails JSON.parse.
 */
const utf8 = new TextDecoder("utf-8");

/**
 * The first line's header when it is one this version reads (fields
 * checked; a compaction checkpoint's sum checked, a view's messages not
 * yet decoded nor summed). `head` is what a view's sum covers of the line.
 */
function readHeader(file: Uint8Array): { header: Header; bodyStart: number; head?: Uint8Array } | undefined {
  const nl = file.indexOf(0x0a);
  const line = file.subarray(0, nl < 0 ? file.length : nl);
  let h: Header;
  try {
    h = JSON.parse(utf8.decode(line)) as Header;
  } catch {
    return undefined;
  }
  if (
    typeof h !== "object" ||
    h === null ||
    !Number.isSafeInteger(h.offset) ||
    !Number.isSafeInteger(h.bytes) ||
    h.offset <= 0 ||
    h.bytes <= 0 ||
    typeof h.meta !== "string" ||
    typeof h.line !== "string" ||
    !isState(h.state)
  )
    return undefined;
  if (h.kind === "compaction" && h.v === 2) return { header: h, bodyStart: file.length };
  const head = sealedHead(line);
  if (h.kind === "compaction") {
    const sealed = h.v === CHECKPOINT_VERSION && head !== undefined && file.length === line.length + 1;
    return sealed && h.sum === sum(head, EMPTY) ? { header: h, bodyStart: file.length } : undefined;
  }
  if (
    h.kind === "view" &&
    h.v === CHECKPOINT_VERSION &&
    nl > 0 &&
    head !== undefined &&
    typeof h.sum === "string" &&
    Number.isSafeInteger(h.kept) &&
    Number.isSafeInteger(h.columns) &&
    h.columns >= 0 &&
    (h.prefix === undefined || isPrefixHeader(h.prefix)) &&
    (h.state.compaction === undefined || isCompaction(h.state.compaction)) &&
    h.state.messages - h.kept === (h.state.compaction?.replaces ?? 0)
  )
    return { header: h, bodyStart: nl + 1, head };
  return undefined;
}

/** Float64Array reads and writes in the platform's order; the file's columns are little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/**
 * The view's kept messages, summed, decoded and checked against the header
 * (undefined on any mismatch). With `split`, the first `split` of them are
 * checked now and built only when first asked for (`head`, see
 * decodeMessagesSplit), and `kept` holds the ones after them.
 */
function readView(
  h: ViewHeader,
  file: Uint8Array,
  bodyStart: number,
  head: Uint8Array,
  split?: number,
): { state: ViewState; head?: DeferredMessages } | undefined {
  const body = file.subarray(bodyStart);
  const textStart = h.columns * 8;
  if (!LITTLE_ENDIAN || textStart > body.length || sum(head, body) !== h.sum) return undefined;
  const at = file.byteOffset + bodyStart;
  // In place when aligned (the writer pads for it), else copied: a typed array cannot start mid-word.
  const columns =
    at % 8 === 0
      ? new Float64Array(file.buffer, at, h.columns)
      : new Float64Array(file.slice(bodyStart, bodyStart + textStart).buffer);
  const text = utf8.decode(body.subarray(textStart));
  const encoded = { columns, strings: h.strings, other: h.other, text };
  if (split !== undefined) {
    const parts = decodeMessagesSplit(encoded, h.kept, split);
    if (parts)
      return {
        state: { ...h.state, kept: parts.rest },
        head: { count: split, chars: parts.headChars, build: parts.buildHead },
      };
  }
  const kept = decodeMessages(encoded, h.kept);
  return kept ? { state: { ...h.state, kept } } : undefined;
}

/**
 * A view checkpoint's file: its header line, then its messages encoded,
 * naming the request prefix when given (its file is written apart, see
 * ViewHeader); undefined on a big-endian machine.
 */
function viewFile(anchor: Anchor, state: ViewState, prefix?: EncodedPrefix): Uint8Array | undefined {
  if (!LITTLE_ENDIAN) return undefined;
  const { kept, ...fold } = state;
  const encoded = encodeMessages(kept);
  const columns = new Uint8Array(Float64Array.from(encoded.columns).buffer);
  const body = Buffer.concat([columns, Buffer.from(encoded.text)]);
  const header: Omit<ViewHeader, "sum"> = {
    ...anchor,
    kind: "view",
    state: fold,
    kept: kept.length,
    columns: encoded.columns.length,
    strings: encoded.strings,
    other: encoded.other,
  };
  if (prefix) header.prefix = prefixHeader(prefix);
  const line = seal(asciiJson(header), body);
  // Spaces (which JSON.parse ignores) so that the columns start at a multiple of 8.
  const pad = " ".repeat((8 - ((line.length + 1) % 8)) % 8);
  return Buffer.concat([Buffer.from(`${line}${pad}\n`), body]);
}

/** A compaction checkpoint's file: its one line, sealed (see seal). */
function compactionFile(anchor: Anchor, state: FoldState): string {
  return `${seal(asciiJson({ ...anchor, kind: "compaction", state }), EMPTY)}\n`;
}

/** Bytes read for the meta line (a few hundred in practice); a longer one is read by firstLine. */
const META_PEEK_BYTES = 4096;

/**
 * Whether the checkpoint's anchors hold in the log `fh` of `size` bytes
 * (see the top of this file). Never an error: a failed read is a no.
 */
async function anchorsHold(path: string, h: Header, fh: ReadDescriptor, size: number): Promise<boolean> {
  // A damaged sidecar may name any range: one past the end of the log is refused before any allocation.
  if (h.offset + h.bytes + 1 > size) return false;
  const head = Buffer.allocUnsafe(Math.min(META_PEEK_BYTES, size));
  // The newline before, the line itself and the newline after.
  const buf = Buffer.alloc(h.bytes + 2);
  // Both reads at once: each is a round trip to the file-system threads.
  const [peeked, lineRead] = await Promise.all([
    fh.read(head, 0, head.length, 0).then((r) => r.bytesRead),
    fh.read(buf, 0, buf.length, h.offset - 1).then((r) => r.bytesRead),
  ]);
  const nl = head.subarray(0, peeked).indexOf(0x0a);
  const meta = nl > 0 ? head.subarray(0, nl) : Buffer.from((await firstLine(path))?.text ?? "");
  if (meta.length === 0 || hash(meta) !== h.meta) return false;
  if (lineRead !== buf.length || buf[0] !== 0x0a || buf[buf.length - 1] !== 0x0a) return false;
  const line = buf.subarray(1, buf.length - 1);
  if (hash(line) !== h.line) return false;
  return h.kind !== "compaction" || parseRecord(line.toString("utf8"))?.kind === "compaction";
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

async function writeCheckpoint(path: string, data: string | Uint8Array): Promise<void> {
  // Best effort: a checkpoint that cannot be written only makes the next resume read more of the log.
  await writeAtomic(dirname(path), checkpointPath(path), data, false).catch(() => undefined);
}

export async function removeCheckpoint(path: string): Promise<void> {
  await rm(checkpointPath(path), { force: true });
  await rm(`${checkpointPath(path)}.tmp`, { force: true });
  await removePrefixFile(path);
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
export interface ResumeOptions {
  /** False: fold the whole log, ignoring the checkpoint (it is rewritten as the fold earns it). */
  useCheckpoint?: boolean;
  /**
   * Encodes the request prefix a view checkpoint keeps; without it none is
   * written, nor read back (ResumedSession.requestPrefix stays unset).
   */
  encodePrefix?: RequestPrefixEncoder;
  /**
   * Called once the fold has taken its cut, the log's size, with it: lines
   * appended from then on are past what it reads (SessionStore.resume writes
   * a turn's opening then). A fold that starts over reads to the same cut.
   */
  onCut?: (size: number) => void;
  /** The cut to read to instead of the log's size (a fold started over, a caller that knows the log's end). */
  cut?: number;
}

export async function foldForResume(path: string, options: ResumeOptions = {}): Promise<ResumeFold | undefined> {
  const useCheckpoint = options.useCheckpoint ?? true;
  // The sidecar is read while the log is opened; the log is opened once, for the checkpoint's checks and the
  // fold, as a resume is a handful of file operations, each a thread-pool round trip.
  const [file, fh] = await Promise.all([
    useCheckpoint
      ? Bun.file(checkpointPath(path))
          .bytes()
          .catch(() => undefined)
      : undefined,
    ReadDescriptor.open(path),
  ]);
  try {
    return await foldFrom(path, fh, file, options);
  } finally {
    // Synchronous (read-descriptor.ts): a close left running on the file-system threads delayed the session's
    // next append (the turn's question) by ~0.5 ms, and awaiting one cost its round trip.
    fh.close();
  }
}

/** The checkpoint the fold may start from, checked; undefined when there is none it may trust. */
async function usableCheckpoint(
  path: string,
  { header, bodyStart, head }: { header: Header; bodyStart: number; head?: Uint8Array },
  file: Uint8Array,
  fh: ReadDescriptor,
  size: number,
  pending: Promise<unknown>,
  split: number | undefined,
): Promise<Checkpoint | undefined> {
  // The anchors are read while the messages are decoded (the tail's first read, `pending`, is under way too).
  const holds = anchorsHold(path, header, fh, size).catch(() => false);
  let cp: Checkpoint | undefined;
  if (header.kind === "compaction") cp = header;
  else {
    // A view that cannot be decoded is no checkpoint (the log is folded instead); decoding checks, never trusts.
    let view: ReturnType<typeof readView>;
    try {
      view = head && readView(header, file, bodyStart, head, split);
    } catch {
      view = undefined;
    }
    if (view)
      cp = {
        v: header.v,
        meta: header.meta,
        offset: header.offset,
        bytes: header.bytes,
        line: header.line,
        kind: "view",
        state: view.state,
        ...(view.head ? { head: view.head } : {}),
      };
  }
  if (!(await holds)) cp = undefined;
  // A read started for a checkpoint that is not used ends before the caller starts another on the same handle.
  if (!cp) await pending.catch(() => undefined);
  return cp;
}

/** Where the fold goes on from a checkpoint's line (see Checkpoint). */
const startOf = (h: { kind: Header["kind"]; offset: number; bytes: number }): number =>
  h.kind === "view" ? h.offset + h.bytes + 1 : h.offset;

async function foldFrom(
  path: string,
  fh: ReadDescriptor,
  file: Uint8Array | undefined,
  options: ResumeOptions,
): Promise<ResumeFold | undefined> {
  // A synchronous fstat: a metadata read on an open descriptor, quicker than the round trip an async one costs.
  const size = options.cut ?? fstatSync(fh.descriptor).size;
  options.onCut?.(size);
  const guess = file && readHeader(file);
  // Read only when the checkpoint names one, on another file-system thread while the view is decoded.
  const view = guess?.header.kind === "view" ? guess.header : undefined;
  const named = options.encodePrefix ? view?.prefix : undefined;
  const prefixFile = named ? readPrefixBytes(path) : undefined;
  // The kept messages the prefix stands for (after the summary, when there is one) are built only when first
  // asked for: the first request after the resume may go out from the prefix before they exist.
  const split = named && view ? named.count - (view.state.compaction ? 1 : 0) : undefined;
  // The log's lines after the checkpoint are read while it is checked; from the start when it proves unusable.
  let batches = readLineBatches(fh, { start: guess ? startOf(guess.header) : 0, end: size });
  let first = batches.next();
  const cp = guess ? await usableCheckpoint(path, guess, file, fh, size, first, split) : undefined;
  if (guess && !cp) {
    await batches.return(undefined);
    batches = readLineBatches(fh, { start: 0, end: size });
    first = batches.next();
  }
  // What the view's request prefix was made from, taken before the fold appends the tail's messages to `kept`.
  const fromView =
    cp?.kind === "view" && named && !cp.head
      ? { compaction: cp.state.compaction, kept: cp.state.kept, keptCount: cp.state.kept.length }
      : undefined;
  let folder = cp ? new SessionFolder(cp.state, cp.kind === "view" ? cp.head : undefined) : undefined;
  let metaHash = cp?.meta;
  const start = cp ? startOf(cp) : 0;
  let last: { offset: number; bytes: number; text: string; state: FoldState } | undefined;
  let end: Line | undefined;
  for (let next = await first; !next.done; next = await batches.next()) {
    for (const line of next.value) {
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
  if (!folder.complete) {
    const { onCut: _, ...rest } = options;
    return foldForResume(path, { ...rest, useCheckpoint: false, cut: size });
  }
  const meta = metaHash;
  const session = folder.finishContext();
  // Whether it fits is known now; its bytes are checked once read, without holding the resume back for them
  // (the read runs on another file-system thread and usually ends first, but need not). A history whose head
  // is still to build begins with the view's messages by construction (no compaction since, pairing checked).
  if (named && prefixFile && (session.deferred || (fromView && prefixFits(named.count, fromView, session))))
    session.requestPrefix = prefixFile.then((bytes) => checkPrefix(named, bytes));
  // What the next resume would fold without a new view checkpoint: from the newest compaction on, or from this view.
  const nextStart = last?.offset ?? start;
  const worthAView = cp?.kind === "view" && file && !last ? viewRefreshBytes(file.length) : VIEW_MIN_TAIL_BYTES;
  if (end?.terminated && end.offset + end.bytes + 1 - nextStart >= worthAView) {
    const anchor = {
      v: CHECKPOINT_VERSION,
      meta,
      offset: end.offset,
      bytes: end.bytes,
      line: hash(Buffer.from(end.text)),
    };
    const done = folder;
    const agent = folder.summary.agent;
    const { encodePrefix } = options;
    return {
      session,
      saveView: async () => {
        // Taken here, not during the resume: it builds a deferred head, which the resume's turn need not wait for.
        // The folder takes no record after this function returns, so the view is the same either way.
        const state = done.view();
        const prefix = encodePrefix && encodeViewPrefix(encodePrefix, agent, state);
        const file = viewFile(anchor, state, prefix);
        if (!file) return;
        // The prefix first: a crash between the two leaves a checkpoint whose header does not name these bytes.
        await writePrefixFile(path, prefix);
        await writeCheckpoint(path, file);
      },
    };
  }
  if (last && last.offset !== cp?.offset) {
    const anchor = {
      v: CHECKPOINT_VERSION,
      meta,
      offset: last.offset,
      bytes: last.bytes,
      line: hash(Buffer.from(last.text)),
    };
    await writeCheckpoint(path, compactionFile(anchor, last.state));
    // The view it replaces named a prefix file: nothing names it now.
    if (view?.prefix) await writePrefixFile(path, undefined);
  }
  return { session };
}
