/**
 * The session store contract: what a session's history looks like on disk
 * and the one interface both backends implement (jsonl.ts on disk,
 * memory.ts for tests). A session is an append-only log
 * of records, one JSON object per line; every record carries `ts` (ms since
 * the epoch) and a `kind`. Nothing is ever rewritten in place: a new title
 * or new totals are a new `meta_update` line, a compaction is a marker line
 * and the older lines stay. The session runtime owns meaning (turns, event
 * numbering, compaction policy); the store owns durability, ids, listing,
 * crash repair and the folding of the log into what a model should see.
 */
import type { EncodedPrefix, Message } from "../provider/types.ts";

/** Format version written into every `meta` line; bump on incompatible change. */
export const STORE_FORMAT_VERSION = 1;

/** First line of every session file; written once by `create`. */
export interface MetaRecord {
  ts: number;
  kind: "meta";
  v: number;
  id: number;
  agent: string;
  createdBy: string;
  createdAt: number;
  title?: string;
}

/**
 * A change of title and/or a snapshot of the running totals. The store
 * writes full snapshots itself (after a turn end, a compaction or an
 * interruption: see `prepareBatch` in fold.ts); a
 * caller appends one only to set a title. When folding, fields present
 * replace the earlier values; records after it add to the totals.
 */
export interface MetaUpdateRecord {
  ts: number;
  kind: "meta_update";
  title?: string;
  messageCount?: number;
  totalTokens?: number;
  lastActive?: number;
  lastSeq?: number;
}

/** One conversation message, appended as soon as it is complete. */
export interface MessageRecord {
  ts: number;
  kind: "message";
  message: Message;
}

/**
 * A trace event as the session runtime emitted it: opaque to the store
 * except for `seq` (per session, strictly increasing, enforced on append)
 * and `type`. Types in TURN_START_TYPES / TURN_END_TYPES delimit turns,
 * which is how a crash mid-turn is detected.
 */
export type TraceEvent = { seq: number; type: string } & { [key: string]: unknown };

export interface EventRecord {
  ts: number;
  kind: "event";
  event: TraceEvent;
}

/** Event types that open and close a turn (runtime names and wire names). */
export const TURN_START_TYPES: ReadonlySet<string> = new Set(["start"]);
export const TURN_END_TYPES: ReadonlySet<string> = new Set(["end"]);

/**
 * The summary stands in for `allMessages[0, replaces)`; messages from
 * index `replaces` on stay verbatim after it. `replaces` counts messages
 * from the start of the session (not from the previous compaction), so a
 * later compaction simply supersedes an earlier one.
 */
export interface CompactionRecord {
  ts: number;
  kind: "compaction";
  summary: string;
  tokensBefore: number;
  tokensAfter: number;
  replaces: number;
}

/** Closes a turn that a crash cut off; appended by the runtime after `load` reported it. */
export interface InterruptedRecord {
  ts: number;
  kind: "interrupted";
  /** seq of the turn's start event. */
  turnSeq?: number;
  reason: string;
}

export type StoredRecord =
  | MetaRecord
  | MetaUpdateRecord
  | MessageRecord
  | EventRecord
  | CompactionRecord
  | InterruptedRecord;

type Fresh<R> = Omit<R, "ts"> & { ts?: number };

/**
 * What callers append. `ts` defaults to now. A compaction's `replaces`
 * defaults to every message appended before it. A `meta_update` from a
 * caller carries only a title; the store adds the totals.
 */
export type NewRecord =
  | Fresh<MessageRecord>
  | Fresh<EventRecord>
  | (Fresh<Omit<CompactionRecord, "replaces">> & { replaces?: number })
  | Fresh<InterruptedRecord>
  | { kind: "meta_update"; title: string; ts?: number };

/** The compact per-session row kept in memory for listing (a few hundred bytes). */
export interface SessionSummary {
  id: number;
  agent: string;
  createdBy: string;
  createdAt: number;
  /** Set by the client, else taken from the first user message; "" before one exists. */
  title: string;
  messageCount: number;
  /** ts of the newest record. */
  lastActive: number;
  /** Sum of prompt + completion tokens over every assistant message's usage. */
  totalTokens: number;
  /** Highest event seq on disk; 0 when none. */
  lastSeq: number;
}

export interface SessionInit {
  agent: string;
  createdBy: string;
  title?: string;
}

/** A last line cut off mid-write (kill -9, power cut). It is ignored, moved out of the log and reported by one `load`. */
export interface TornLine {
  /** Byte offset of the torn line in the file. */
  offset: number;
  bytes: number;
  /** The first 120 characters, for the log. */
  preview: string;
}

export interface LoadedSession {
  meta: SessionSummary;
  /** What the model should see: the latest compaction summary (see summaryMessage) then the messages after it, tool calls and results paired. */
  messages: Message[];
  /** Every message on disk, in order, unrepaired. */
  allMessages: Message[];
  lastSeq: number;
  compaction?: CompactionRecord;
  /** Set when the log ends inside a turn: append an `interrupted` record for it. */
  interruptedTurn?: { turnSeq: number; startedAt: number };
  tornLine?: TornLine;
  /** Lines skipped because they were not valid records (corrupt or unknown kind). */
  corruptLines: number;
}

/** What resuming a session needs: a LoadedSession without the whole message list (see SessionStore.resume). */
export type ResumedSession = Omit<LoadedSession, "allMessages"> & {
  /**
   * The JSON the session's provider sends for the first `count` of
   * `messages`, kept with the resume checkpoint (see checkpoint.ts) when
   * the messages still begin with what it was made from; the caller hands
   * it to the provider (Provider.importPrefix) or ignores it. A promise:
   * its file is read alongside the checkpoint and the resume does not
   * wait for it. Undefined once read when its bytes are not what the
   * checkpoint names; never rejects.
   */
  requestPrefix?: Promise<EncodedPrefix | undefined>;
  /**
   * Set when the first `head.count` messages are not built yet: then
   * `messages` builds them on its first read (the same objects as
   * `head.build()`), and a caller that has `requestPrefix` may send its
   * first request from the prefix (which stands for exactly them) and
   * build them after. `rest` is every message after them, built.
   */
  deferred?: DeferredHistory;
  /**
   * Set when the store took the resume's TurnOpening: its records are in
   * the log right after what was resumed (`lastSeq` is the one they were
   * numbered from, this resume's own), written or being written; `written`
   * settles as append() would for them. Unset: nothing of it was written,
   * and the caller appends its records itself.
   */
  opened?: { written: Promise<void> };
};

/**
 * The records that open a turn on a session being resumed for it (its
 * start event and question), given to SessionStore.resume so the store may
 * write them while it reads: a turn's question is fsynced before its
 * request goes out, and that wait then overlaps the resume's instead of
 * following it. The store takes it only when it knows, before reading,
 * the session's last seq and that no turn is left open (an interrupted
 * turn is marked before any new one starts); see ResumedSession.opened.
 */
export interface TurnOpening {
  /**
   * The records, their events numbered after `lastSeq`: called at most once, as the store starts writing
   * them; a resume that then returns no `opened` has cut them off again (the log was not what it knew).
   */
  records(lastSeq: number): NewRecord[];
}

/** Messages not built yet: how many, and the call that builds them (the same objects every call; it never fails). */
export interface DeferredMessages {
  count: number;
  /** Characters of text they hold (contents, tool-call ids and names; not those of messages kept whole). */
  chars: number;
  build(): Message[];
}

/** A history as its head, not built yet, and the messages after it (see ResumedSession.deferred). */
export interface DeferredHistory {
  head: DeferredMessages;
  rest: Message[];
}

export interface ListOptions {
  agent?: string;
  offset: number;
  limit: number;
}

export interface SessionPage {
  /** Sessions matching the filter, across all pages. */
  total: number;
  /** Newest activity first (ties: higher id first). */
  sessions: SessionSummary[];
}

export interface SearchHit {
  session: number;
  agent: string;
  role: "user" | "assistant";
  snippet: string;
  score: number;
  ts: number;
}

export interface SearchOptions {
  /** Default 20. */
  limit?: number;
}

export interface SessionStore {
  /** Assigns an id never handed out before by this store's directory, restarts and deletes included. */
  create(init: SessionInit): Promise<SessionSummary>;
  /**
   * Appends the records as one write, after every earlier append to the
   * same session. Rejects with SessionNotFoundError for an unknown id and
   * RangeError for an invalid record (e.g. an event seq not above lastSeq);
   * nothing of a rejected batch is written. `onSyncing`, when given, is
   * called once the records are written and while their fsync (if they
   * get one) runs, before the promise resolves: work the caller would do
   * after the append can run during the disk's wait instead. It is not
   * called when the append fails first, and what it throws is ignored.
   */
  append(id: number, records: readonly NewRecord[], onSyncing?: () => void): Promise<void>;
  load(id: number): Promise<LoadedSession | undefined>;
  /**
   * What a live session needs to go on: exactly load()'s `messages`, meta,
   * lastSeq, interrupted turn and torn line, without reading the messages
   * the last compaction replaced (the file store starts at its resume
   * checkpoint; see checkpoint.ts). `corruptLines` counts only the lines it
   * read. With `opening`, the store may also append its records right after
   * what it resumes (see TurnOpening); the appends after it follow them.
   */
  resume(id: number, opening?: TurnOpening): Promise<ResumedSession | undefined>;
  /** The summary without reading messages; undefined for an unknown id. */
  summary(id: number): Promise<SessionSummary | undefined>;
  list(opts: ListOptions): Promise<SessionPage>;
  /**
   * Trace events with seq > afterSeq, streamed from disk in order. The cut
   * is taken at the call: every append issued before it (resolved or not)
   * is included, nothing issued after. Errors (404) surface on iteration.
   */
  readEvents(id: number, afterSeq: number): AsyncIterable<EventRecord>;
  /** Every valid record, streamed, for replay; same cut as readEvents. */
  records(id: number): AsyncIterable<StoredRecord>;
  /** BM25 over user and assistant text of every session (see search.ts). */
  search(query: string, opts?: SearchOptions): Promise<SearchHit[]>;
  delete(id: number): Promise<boolean>;
  exists(id: number): Promise<boolean>;
  /** Makes every appended record durable and writes pending total snapshots. */
  flush(): Promise<void>;
  /** flush(), then every further call rejects with StoreClosedError. */
  close(): Promise<void>;
}

export class SessionNotFoundError extends Error {
  override readonly name = "SessionNotFoundError";
  /** The wire error code (protocol ErrorMsg). */
  readonly code = 404;
  constructor(readonly session: number) {
    super(`session ${session} not found`);
  }
}

export class StoreClosedError extends Error {
  override readonly name = "StoreClosedError";
  readonly code = 503;
  constructor() {
    super("session store is closed");
  }
}
