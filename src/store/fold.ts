/**
 * The backend-independent semantics of a session log, shared by the file
 * store and its in-memory twin so both behave the same: validating and
 * stamping appended records, keeping the running summary, deciding when
 * the store writes a totals snapshot, parsing stored lines, and folding a
 * log into the history a model should see (compaction applied, tool calls
 * paired with results, an unfinished turn detected).
 */
import type { Message, ToolCall, ToolResultMessage, UserMessage } from "../provider/types.ts";
import {
  type CompactionRecord,
  type DeferredMessages,
  type EventRecord,
  type LoadedSession,
  type MetaRecord,
  type NewRecord,
  type SessionInit,
  type SessionPage,
  type SessionSummary,
  type ListOptions,
  type ResumedSession,
  type StoredRecord,
  STORE_FORMAT_VERSION,
  TURN_END_TYPES,
  TURN_START_TYPES,
} from "./types.ts";

/** Titles taken from the first user message are cut here: a list row, not a paragraph. */
const TITLE_MAX = 60;

/** Prefix of the user message that carries a compaction summary to the model. */
export const SUMMARY_PREFIX = "[Summary of the conversation so far]\n\n";

/** Content of a tool result synthesized for a call that a crash cut off. */
export const INTERRUPTED_RESULT = "interrupted: the daemon stopped before this tool call finished";

export function summaryMessage(summary: string, timestamp?: number): UserMessage {
  return timestamp === undefined
    ? { role: "user", content: SUMMARY_PREFIX + summary }
    : { role: "user", content: SUMMARY_PREFIX + summary, timestamp };
}

/**
 * A one-line title from the first user message: whitespace collapsed, cut at
 * a word near TITLE_MAX. The result is copied into a string of its own:
 * a slice shares the engine's buffer of the whole message, so a summary kept
 * for listing would otherwise pin the first message of every session.
 */
export function deriveTitle(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= TITLE_MAX) return detach(flat);
  const cut = flat.slice(0, TITLE_MAX);
  const space = cut.lastIndexOf(" ");
  return detach(`${space > TITLE_MAX / 2 ? cut.slice(0, space) : cut}…`);
}

/** A fresh copy of a short string (join builds a new buffer), sharing nothing with its source. */
function detach(s: string): string {
  return Array.from(s).join("");
}

/** The first line of a new session's file. */
export function metaRecord(init: SessionInit, id: number, ts: number): MetaRecord {
  const meta: MetaRecord = {
    ts,
    kind: "meta",
    v: STORE_FORMAT_VERSION,
    id,
    agent: init.agent,
    createdBy: init.createdBy,
    createdAt: ts,
  };
  if (init.title !== undefined) meta.title = init.title;
  return meta;
}

export function summaryFromMeta(meta: MetaRecord): SessionSummary {
  return {
    id: meta.id,
    agent: meta.agent,
    createdBy: meta.createdBy,
    createdAt: meta.createdAt,
    title: meta.title ?? "",
    messageCount: 0,
    lastActive: meta.ts,
    totalTokens: 0,
    lastSeq: 0,
  };
}

/** Folds one record (after the meta line) into a summary, in place. */
export function applyToSummary(s: SessionSummary, r: StoredRecord): void {
  switch (r.kind) {
    case "meta":
      return;
    case "meta_update":
      if (r.title !== undefined) s.title = r.title;
      if (r.messageCount !== undefined) s.messageCount = r.messageCount;
      if (r.totalTokens !== undefined) s.totalTokens = r.totalTokens;
      if (r.lastSeq !== undefined) s.lastSeq = r.lastSeq;
      s.lastActive = Math.max(s.lastActive, r.lastActive ?? 0);
      return;
    case "message": {
      const m = r.message;
      s.messageCount++;
      if (m.role === "assistant" && m.usage) s.totalTokens += m.usage.promptTokens + m.usage.completionTokens;
      if (m.role === "user" && s.title === "") s.title = deriveTitle(m.content);
      break;
    }
    case "event":
      s.lastSeq = Math.max(s.lastSeq, r.event.seq);
      break;
    default:
      break;
  }
  s.lastActive = Math.max(s.lastActive, r.ts);
}

/** A full totals snapshot, written so listing can start from the tail of a file. */
export function snapshotRecord(s: SessionSummary, ts: number): StoredRecord {
  return {
    ts,
    kind: "meta_update",
    title: s.title,
    messageCount: s.messageCount,
    totalTokens: s.totalTokens,
    lastActive: s.lastActive,
    lastSeq: s.lastSeq,
  };
}

export function isSnapshot(r: StoredRecord): boolean {
  return r.kind === "meta_update" && r.messageCount !== undefined;
}

export interface PreparedBatch {
  /** The records as they go on disk (a trailing snapshot included when due). */
  records: StoredRecord[];
  /** The summary after the batch; commit it only once the write succeeded. */
  summary: SessionSummary;
  /**
   * The batch holds something whose loss would change the conversation
   * (a message, compaction, interruption, title, or a turn end): the file
   * backend fsyncs after writing it.
   */
  durable: boolean;
  /** Totals changed since the last snapshot written. */
  dirty: boolean;
  /**
   * Whether a turn is open after the batch, as a fold would say (a start
   * opens one; an end or an interruption closes it); undefined when the
   * batch holds none of them, so it leaves that as it was.
   */
  turnOpen?: boolean;
}

const fail = (why: string): never => {
  throw new RangeError(`invalid session record: ${why}`);
};

/**
 * Validates and stamps a batch against the session's current summary. A
 * snapshot is appended after a turn end, a compaction, an interruption or
 * a title change, so a listing after restart reads only the file's tail.
 * Throws RangeError before anything is written.
 */
export function prepareBatch(
  current: SessionSummary,
  batch: readonly NewRecord[],
  now: number,
  wasDirty: boolean,
): PreparedBatch {
  const s = { ...current };
  const records: StoredRecord[] = [];
  let durable = false;
  let snapshot = false;
  let turnOpen: boolean | undefined;
  for (const r of batch) {
    const ts = r.ts ?? now;
    if (!Number.isFinite(ts)) fail("ts must be a number");
    let rec: StoredRecord;
    switch (r.kind) {
      case "message": {
        const role: unknown = r.message?.role;
        if (role !== "user" && role !== "assistant" && role !== "tool")
          fail("message.role must be user, assistant or tool");
        rec = { ts, kind: "message", message: r.message };
        durable = true;
        break;
      }
      case "event": {
        const e = r.event;
        if (!Number.isSafeInteger(e?.seq) || e.seq <= s.lastSeq)
          fail(`event seq ${String(e?.seq)} must be an integer above ${s.lastSeq}`);
        if (typeof e.type !== "string") fail("event.type must be a string");
        rec = { ts, kind: "event", event: e };
        if (TURN_START_TYPES.has(e.type)) turnOpen = true;
        else if (TURN_END_TYPES.has(e.type)) {
          durable = snapshot = true;
          turnOpen = false;
        }
        break;
      }
      case "compaction":
        if (typeof r.summary !== "string") fail("compaction.summary must be a string");
        if (!Number.isFinite(r.tokensBefore) || !Number.isFinite(r.tokensAfter))
          fail("compaction tokens must be numbers");
        rec = {
          ts,
          kind: "compaction",
          summary: r.summary,
          tokensBefore: r.tokensBefore,
          tokensAfter: r.tokensAfter,
          replaces: Math.min(r.replaces ?? s.messageCount, s.messageCount),
        };
        durable = snapshot = true;
        break;
      case "interrupted":
        rec =
          r.turnSeq === undefined
            ? { ts, kind: "interrupted", reason: r.reason }
            : { ts, kind: "interrupted", turnSeq: r.turnSeq, reason: r.reason };
        durable = snapshot = true;
        turnOpen = false;
        break;
      case "meta_update":
        if (typeof r.title !== "string") fail("meta_update from a caller must carry a title");
        rec = { ts, kind: "meta_update", title: r.title };
        durable = snapshot = true;
        break;
      default:
        return fail(`unknown kind ${String((r as { kind?: unknown }).kind)}`);
    }
    applyToSummary(s, rec);
    records.push(rec);
  }
  if (snapshot) records.push(snapshotRecord(s, Math.max(now, s.lastActive)));
  const dirty = snapshot ? false : wasDirty || records.length > 0;
  return { records, summary: s, durable, dirty, ...(turnOpen !== undefined ? { turnOpen } : {}) };
}

/**
 * One line of the log. Every record is built here and in the stores with
 * `ts` and `kind` as its first keys, so readers can filter lines (see
 * looksLikeEvent) before parsing them.
 */
export function serialize(r: StoredRecord): string {
  return JSON.stringify(r);
}

const KINDS = new Set(["meta", "meta_update", "message", "event", "compaction", "interrupted"]);

/** A stored line back into a record; undefined for anything that is not a valid record. */
export function parseRecord(line: string): StoredRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as {
    ts?: unknown;
    kind?: unknown;
    message?: { role?: unknown };
    event?: { seq?: unknown; type?: unknown };
    id?: unknown;
  };
  if (typeof o.ts !== "number" || typeof o.kind !== "string" || !KINDS.has(o.kind)) return undefined;
  if (o.kind === "message" && typeof o.message?.role !== "string") return undefined;
  if (o.kind === "event" && (typeof o.event?.seq !== "number" || typeof o.event.type !== "string")) return undefined;
  if (o.kind === "meta" && typeof o.id !== "number") return undefined;
  return v as StoredRecord;
}

/** Cheap pre-parse test for an event line written by `serialize`. */
/** The start of an event line as `serialize` writes the runtime's events: ts, kind, then the event's seq and type. */
const EVENT_PREFIX = /^\{"ts":(\d{1,15}),"kind":"event","event":\{"seq":(\d{1,15}),"type":"([^"\\]*)"[,}]/;

/**
 * An event line's record as far as the fold uses it (ts, seq, type), read
 * from its prefix without parsing the rest: about half the lines of a log
 * are trace events, and parsing them was a third of a resume. Lines of any
 * other shape are parsed. The one difference from parsing: an event line
 * whose prefix is whole but whose rest is not valid JSON (corruption in
 * the middle of a file, never a torn tail, which is repaired first) counts
 * as the event its prefix says instead of as a corrupt line.
 */
export function eventPrefix(text: string): EventRecord | undefined {
  if (text.charCodeAt(text.length - 1) !== 0x7d) return undefined;
  const m = EVENT_PREFIX.exec(text);
  if (!m) return undefined;
  return { ts: Number(m[1]), kind: "event", event: { seq: Number(m[2]), type: m[3]! } };
}

/** Runs an append's onSyncing hook (see SessionStore.append); what it throws is not the append's failure. */
export function callQuietly(hook: (() => void) | undefined): void {
  try {
    hook?.();
  } catch {
    // An optimization the caller runs during the fsync: its failure changes nothing that was written.
  }
}

/** A line's content hash, as the resume checkpoint and the search index record them. */
export const hash = (b: Uint8Array): string => Bun.hash(b).toString(16);

export function looksLikeEvent(line: string): boolean {
  const i = line.indexOf('"kind":"event"');
  return i > 0 && i < 32;
}

/**
 * The fold's state just before one record: enough to go on folding from
 * that record without the lines before it. The store's resume checkpoint
 * (checkpoint.ts) keeps the one taken before the last compaction line, so a
 * resume reads only from there (a left fold resumed from its own state
 * gives exactly the result of the whole fold).
 */
export interface FoldState {
  summary: SessionSummary;
  /** Messages before the record (the index the next message gets in the whole log). */
  messages: number;
  openTurn?: { turnSeq: number; startedAt: number };
  corrupt: number;
}

/**
 * The fold's state just after one record together with what the view
 * keeps: the last compaction and every message from its `replaces` on (all
 * messages when there is none). Going on from it needs no line before that
 * record; the store's view checkpoint (checkpoint.ts) keeps one for
 * sessions whose last compaction is far back or absent.
 */
export interface ViewState extends FoldState {
  /** Messages from index (compaction ? compaction.replaces : 0) to `messages`. */
  kept: Message[];
  compaction?: CompactionRecord;
}

/**
 * Folds a whole log (meta line first), or the rest of one from a FoldState,
 * into a LoadedSession. Keeps every message it is given; the caller streams
 * records in so only the result is held.
 */
export class SessionFolder {
  readonly summary: SessionSummary;
  /** Messages from `base` on (all of them for a whole fold). */
  private all: Message[];
  corrupt = 0;
  /** Index in the whole log of all[0]. */
  private base = 0;
  private compaction: CompactionRecord | undefined;
  private openTurn: { turnSeq: number; startedAt: number } | undefined;
  /** The messages just before `base`, not built yet (a view's, see the constructor), with the compaction before them. */
  private head: { messages: DeferredMessages; compaction: CompactionRecord | undefined } | undefined;

  /**
   * From the meta line (a whole fold), or going on from a FoldState or a
   * ViewState (whose `kept` it takes over). `head`: with a ViewState, the
   * kept messages before its `kept`, not built yet; they are built only
   * when the result needs them as objects (see finishContext).
   */
  constructor(start: MetaRecord | FoldState | ViewState, head?: DeferredMessages) {
    if ("kind" in start) {
      this.summary = summaryFromMeta(start);
      this.all = [];
      return;
    }
    this.summary = { ...start.summary };
    this.corrupt = start.corrupt;
    if (start.openTurn) this.openTurn = { ...start.openTurn };
    if ("kept" in start) {
      this.all = start.kept;
      this.base = start.messages - start.kept.length;
      this.compaction = start.compaction;
      if (head) this.head = { messages: head, compaction: start.compaction };
    } else {
      this.all = [];
      this.base = start.messages;
    }
  }

  /** The state before the next record (copies: later adds do not change it). */
  state(): FoldState {
    const s: FoldState = { summary: { ...this.summary }, messages: this.base + this.all.length, corrupt: this.corrupt };
    if (this.openTurn) s.openTurn = { ...this.openTurn };
    return s;
  }

  /** The state after the last record with what the view keeps (requires `complete`; copies the list, not the messages). */
  view(): ViewState {
    if (!this.complete) throw new Error("SessionFolder: the fold started after messages the view needs");
    this.buildHead();
    const c = this.compaction;
    const v: ViewState = { ...this.state(), kept: this.all.slice(c ? c.replaces - this.base : 0) };
    if (c) v.compaction = c;
    return v;
  }

  add(r: StoredRecord): void {
    applyToSummary(this.summary, r);
    if (r.kind === "message") this.all.push(r.message);
    else if (r.kind === "compaction") this.compaction = r;
    else if (r.kind === "interrupted") this.openTurn = undefined;
    else if (r.kind === "event") {
      if (TURN_START_TYPES.has(r.event.type)) this.openTurn = { turnSeq: r.event.seq, startedAt: r.ts };
      else if (TURN_END_TYPES.has(r.event.type)) this.openTurn = undefined;
    }
  }

  /**
   * False when the view needs messages from before `base` (and the unbuilt
   * head just before it, when there is one): a fold resumed
   * from a state whose records hold no compaction, or whose last compaction
   * keeps messages from before it (`replaces` below `base`). Always true
   * for a whole fold.
   */
  get complete(): boolean {
    const from = this.base - (this.head?.messages.count ?? 0);
    return from === 0 || (this.compaction !== undefined && this.compaction.replaces >= from);
  }

  /** Makes the head messages part of `all` (a no-op without one). */
  private buildHead(): void {
    if (!this.head) return;
    const built = this.head.messages.build();
    this.all = built.concat(this.all);
    this.base -= built.length;
    this.head = undefined;
  }

  /**
   * What the model should see (requires `complete`), without the whole
   * message list. While no compaction followed the head, its messages stay
   * unbuilt (ResumedSession.deferred): the history is [summary, ...head,
   * ...pairToolResults(the rest)], as the head was checked to be one that
   * pairing leaves as it is, with no call waiting for a result at its end.
   */
  finishContext(): ResumedSession {
    if (!this.complete) throw new Error("SessionFolder: the fold started after messages the view needs");
    const c = this.compaction;
    const head = this.head;
    if (head && head.compaction === c) return this.deferredContext(head.messages, pairToolResults(this.all));
    if (!c || c.replaces < this.base) this.buildHead();
    const view = c ? [summaryMessage(c.summary, c.ts), ...this.all.slice(c.replaces - this.base)] : this.all;
    const out: ResumedSession = {
      meta: { ...this.summary },
      messages: pairToolResults(view),
      lastSeq: this.summary.lastSeq,
      corruptLines: this.corrupt,
    };
    if (c) out.compaction = c;
    if (this.openTurn) out.interruptedTurn = this.openTurn;
    return out;
  }

  private deferredContext(kept: DeferredMessages, rest: Message[]): ResumedSession {
    const c = this.compaction;
    let head: Message[] | undefined;
    const build = (): Message[] => {
      if (!head) head = c ? [summaryMessage(c.summary, c.ts), ...kept.build()] : kept.build();
      return head;
    };
    let messages: Message[] | undefined;
    const out: ResumedSession = {
      meta: { ...this.summary },
      get messages(): Message[] {
        messages ??= build().concat(rest);
        return messages;
      },
      set messages(list: Message[]) {
        messages = list;
      },
      lastSeq: this.summary.lastSeq,
      corruptLines: this.corrupt,
      deferred: {
        head: {
          count: kept.count + (c ? 1 : 0),
          chars: kept.chars + (c ? SUMMARY_PREFIX.length + c.summary.length : 0),
          build,
        },
        rest,
      },
    };
    if (c) out.compaction = c;
    if (this.openTurn) out.interruptedTurn = this.openTurn;
    return out;
  }

  /** The whole LoadedSession; only for a whole fold (every message is in `all`). */
  finish(): LoadedSession {
    this.buildHead();
    if (this.base !== 0) throw new Error("SessionFolder: finish() needs a fold from the meta line");
    return { ...this.finishContext(), allMessages: this.all };
  }
}

/**
 * Makes a history acceptable to every provider API: each assistant tool
 * call is followed by exactly one result (an error result saying
 * "interrupted" where a crash lost it), and results with no call before
 * them (e.g. cut off by a compaction boundary) are dropped.
 */
export function pairToolResults(messages: readonly Message[]): Message[] {
  // Most histories hold long runs without tools, many none at all: a scan is cheaper than rebuilding the list.
  let tools = false;
  for (const m of messages)
    if (m.role === "tool" || (m.role === "assistant" && m.toolCalls !== undefined && m.toolCalls.length > 0)) {
      tools = true;
      break;
    }
  if (!tools) return messages.slice();
  const out: Message[] = [];
  // The calls of the last assistant message still waiting for their results (none for most messages). One map,
  // emptied in place, and no closure over it: this runs over every message of a resumed history.
  const pending = new Map<string, ToolCall>();
  for (const m of messages) {
    if (m.role === "tool") {
      if (pending.delete(m.toolCallId)) out.push(m);
      continue;
    }
    if (pending.size > 0) settleInterrupted(pending, out);
    out.push(m);
    if (m.role === "assistant" && m.toolCalls) for (const call of m.toolCalls) pending.set(call.id, call);
  }
  if (pending.size > 0) settleInterrupted(pending, out);
  return out;
}

/** An "interrupted" error result for each call still pending, in order; empties `pending`. */
function settleInterrupted(pending: Map<string, ToolCall>, out: Message[]): void {
  for (const call of pending.values()) {
    const synthetic: ToolResultMessage = {
      role: "tool",
      toolCallId: call.id,
      name: call.name,
      content: INTERRUPTED_RESULT,
      isError: true,
    };
    out.push(synthetic);
  }
  pending.clear();
}

/** Newest activity first, ties by higher id; filter by agent; one page of copies. */
export function pageSummaries(all: Iterable<SessionSummary>, opts: ListOptions): SessionPage {
  const rows: SessionSummary[] = [];
  for (const s of all) if (opts.agent === undefined || s.agent === opts.agent) rows.push(s);
  rows.sort((a, b) => b.lastActive - a.lastActive || b.id - a.id);
  const offset = Math.max(0, Math.floor(opts.offset));
  const limit = Math.max(0, Math.floor(opts.limit));
  return { total: rows.length, sessions: rows.slice(offset, offset + limit).map((s) => ({ ...s })) };
}
