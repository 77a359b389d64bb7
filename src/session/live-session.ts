/**
 * A session held in memory: its history as the model sees it, its event
 * counter, its turn queue, and the trace writer that appends every event to
 * the store in order.
 *
 * The history may be released between turns (the runtime does so for idle
 * sessions: it is all on disk) and is read back before the next turn or
 * compaction uses it: an idle live session costs its counters, not its
 * conversation. Only work queued on the session touches `history`.
 *
 * Trace writing: token deltas arrive dozens per second, so chunk and
 * thinking events are batched (flushed every TRACE_FLUSH_MS or before any
 * other record) while every other record is appended at once. The store
 * keeps per-session appends in call order, so the file order is the
 * sequence order.
 */
import type { EncodedPrefix, Message } from "../provider/types.ts";
import { callQuietly } from "../store/fold.ts";
import type { DeferredHistory, NewRecord, SessionStore } from "../store/types.ts";
import type { Approver } from "./bus.ts";
import type { SessionEvent } from "./events.ts";
import { errorMessage } from "../util/abort.ts";
import { logger } from "../util/log.ts";

const log = logger("session");

/** Deltas wait at most this long in memory before reaching the store. */
const TRACE_FLUSH_MS = 100;

/**
 * Messages an unbuilt history may gather after its head before it is
 * built (buildWhenLong): every request of an unbuilt history encodes them
 * all again, where a built one encodes only the newest.
 */
export const MAX_UNBUILT_REST = 256;

export interface TurnHandle {
  /** seq of the turn's start event; set the moment the turn starts. */
  startSeq: number | undefined;
  abort: AbortController;
  /** Who may answer this turn's approval prompts. */
  approver: Approver;
  sender: string;
  /** A tighter token cap than the agent's own for this turn (a delegated task inside its root's budget). */
  tokenCap?: number;
}

/**
 * A resumed history not built yet (ResumedSession.deferred) and the kept
 * request prefix that stands for its head: turns send their requests from
 * the prefix (turn.ts), and the history is built only when something
 * needs its messages (a hook, a compaction, a long rest: see the runtime).
 */
export interface UnbuiltHistory extends DeferredHistory {
  /** The prefix for exactly `head.count` messages, or undefined when there is none to use. */
  prefix: Promise<EncodedPrefix | undefined>;
  /** Called once with the head when it is built. */
  onBuilt?(head: Message[]): void;
}

export class LiveSession {
  seq: number;
  /** The model-visible history; null while released or not built yet (then `unbuilt` holds it). */
  private messages: Message[] | null;
  /** The history while its head is not built (see UnbuiltHistory). */
  private unbuiltHistory: UnbuiltHistory | null = null;
  /** What historyChars() has counted of `messages` so far (never a released list: that would keep it in memory). */
  private counted: HistoryCount = NOT_COUNTED;
  /** The turn running now, if any. */
  running: TurnHandle | null = null;
  /** Turns waiting behind the running one. */
  readonly queued: TurnHandle[] = [];
  private queue: Promise<void> = Promise.resolve();
  lastUsed = Date.now();
  /** Prompt tokens of the latest model call: the size of the context the model saw. */
  lastPromptTokens = 0;
  private pending: SessionEvent[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  /** The latest batch's write: resolves to the error it met, or undefined once it is in the store. */
  private lastAppend: Promise<Error | undefined> = Promise.resolve(undefined);
  /** Records waiting for the write in flight to finish; they go to the store as one batch (see append). */
  private group: (NewRecord | DecidedRecord)[] | null = null;
  /** The onSyncing callbacks of the records in `group`. */
  private groupSyncing: (() => void)[] = [];
  killed = false;
  /** The first append the store refused since the last check: the running turn must not report success. */
  private writeFailure: Error | null = null;

  constructor(
    readonly id: number,
    readonly agent: string,
    readonly createdBy: string,
    history: Message[] | UnbuiltHistory,
    lastSeq: number,
    private readonly store: SessionStore,
  ) {
    if (Array.isArray(history)) this.messages = history;
    else {
      this.messages = null;
      this.unbuiltHistory = history;
    }
    this.seq = lastSeq;
  }

  /** The history as the model sees it; only while loaded (see restoreHistory). Builds an unbuilt one. */
  get history(): Message[] {
    if (this.unbuiltHistory) this.build(this.unbuiltHistory);
    if (!this.messages)
      throw new Error(`session ${this.id}: its history was released; restoreHistory() before a turn uses it`);
    return this.messages;
  }

  set history(messages: Message[]) {
    this.messages = messages;
    this.unbuiltHistory = null;
    this.counted = NOT_COUNTED;
  }

  /** The history while its head is not built yet (`push` adds to its `rest`); null once built or when there was none. */
  get unbuilt(): UnbuiltHistory | null {
    return this.unbuiltHistory;
  }

  /** Builds an unbuilt history whose messages after the head have grown past MAX_UNBUILT_REST. */
  buildWhenLong(): void {
    const unbuilt = this.unbuiltHistory;
    if (unbuilt && unbuilt.rest.length > MAX_UNBUILT_REST) this.build(unbuilt);
  }

  /** Adds a message at the end of the history, built or not. */
  push(message: Message): void {
    if (this.unbuiltHistory) this.unbuiltHistory.rest.push(message);
    else this.history.push(message);
  }

  private build(unbuilt: UnbuiltHistory): void {
    this.unbuiltHistory = null;
    const head = unbuilt.head.build();
    this.messages = head.concat(unbuilt.rest);
    this.counted = NOT_COUNTED;
    unbuilt.onBuilt?.(head);
  }

  get historyLoaded(): boolean {
    return this.messages !== null || this.unbuiltHistory !== null;
  }

  /**
   * Characters of text the loaded history holds (0 when released): roughly
   * what keeping it costs. Counted once per message: a history only grows
   * by push or is replaced whole (the setter, a release), so the messages
   * counted before are still its first ones; the pool asks after every turn.
   */
  historyChars(): number {
    // Not built for this: an unbuilt head counts the text it will hold (its bytes are held until then).
    const unbuilt = this.unbuiltHistory;
    if (unbuilt) return unbuilt.rest.reduce((n, m) => n + messageChars(m), unbuilt.head.chars);
    const list = this.messages;
    if (!list) return 0;
    if (this.counted.of !== list || this.counted.messages > list.length)
      this.counted = { of: list, messages: 0, chars: 0 };
    const c = this.counted;
    for (; c.messages < list.length; c.messages++) c.chars += messageChars(list[c.messages]!);
    return c.chars;
  }

  /** Drops the history from memory between turns (it is on disk); false when a turn is queued or running. */
  releaseHistory(): boolean {
    if (this.busy) return false;
    this.messages = null;
    this.unbuiltHistory = null;
    this.counted = NOT_COUNTED;
    return true;
  }

  /**
   * Reads a released history back: `read` gets the messages from the
   * store once every append queued so far is written, so it sees all of
   * them. A no-op when the history is loaded.
   */
  async restoreHistory(read: () => Promise<Message[]>): Promise<void> {
    if (this.historyLoaded) return;
    await this.flushTrace();
    const messages = await read();
    if (!this.historyLoaded) this.messages = messages;
  }

  get busy(): boolean {
    return this.running !== null || this.queued.length > 0;
  }

  /** Resolves once every turn queued so far has finished (or been dropped). */
  settled(): Promise<void> {
    return this.queue;
  }

  /** Runs `work` after every turn queued before it: turns on one session never interleave. */
  enqueue(turn: TurnHandle, work: () => Promise<void>): Promise<void> {
    this.queued.push(turn);
    const run = this.queue.then(async () => {
      this.queued.splice(this.queued.indexOf(turn), 1);
      if (this.killed || turn.abort.signal.aborted) return;
      this.running = turn;
      try {
        await work();
      } finally {
        this.running = null;
        this.lastUsed = Date.now();
      }
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Appends one trace event (batched when it is a delta). */
  traceEvent(e: SessionEvent): void {
    if (e.body.kind === "chunk" || e.body.kind === "thinking") {
      // The event itself waits (subscribers hold it anyway); its record is built at the flush, not per delta.
      this.pending.push(e);
      this.flushTimer ??= setTimeout(() => void this.flushTrace(), TRACE_FLUSH_MS);
      return;
    }
    this.append([traceRecord(e)]);
  }

  /**
   * Appends records after everything traced before them; resolves once they are written (and synced when
   * the store syncs them). Group commit: records appended while an earlier write is in flight join one
   * batch written when it completes, so the burst at a turn's end (answer, usage, turn end) costs one
   * write and one fsync instead of one each, and each caller still waits for its own records.
   * `onSyncing` runs once the batch holding these records is written and its fsync is under way (see
   * SessionStore.append); it does not run when the write fails.
   */
  append(records: NewRecord[], onSyncing?: () => void): Promise<void> {
    return this.enqueueBatch(records, onSyncing).then(NOTHING);
  }

  /**
   * Traces the event `make` builds, in the same batch as everything traced before it (a turn's end joins its
   * answer's write instead of paying a write and an fsync after it). `make` runs when that batch is about to
   * be written, every earlier write having ended: it is given the first failure among them, or null when
   * they all landed. Resolves once the batch is written, to the event made and this batch's own failure
   * (null when it is in the store; when not, none of the batch is: see SessionStore.append).
   */
  async traceDecided(
    make: (earlier: Error | null) => SessionEvent,
  ): Promise<{ event: SessionEvent; failure: Error | null }> {
    let event: SessionEvent | undefined;
    const failure = await this.enqueueBatch([
      () => {
        event = make(this.writeFailure);
        return traceRecord(event);
      },
    ]);
    // The batch's records are made before its write is started, so `make` has run whether or not it landed.
    return { event: event!, failure: failure ?? null };
  }

  private enqueueBatch(records: (NewRecord | DecidedRecord)[], onSyncing?: () => void): Promise<Error | undefined> {
    const batch: (NewRecord | DecidedRecord)[] = this.takePending();
    for (const record of records) batch.push(record);
    if (batch.length === 0) return this.lastAppend;
    const open = this.group;
    if (open) {
      for (const record of batch) open.push(record);
      if (onSyncing) this.groupSyncing.push(onSyncing);
      return this.lastAppend;
    }
    const group = batch;
    const syncing = onSyncing ? [onSyncing] : [];
    this.group = group;
    this.groupSyncing = syncing;
    const write = this.lastAppend.then(() => {
      this.group = null; // from here on, appends form the next group, written after this one
      this.groupSyncing = [];
      // Each caller's hook on its own: one that throws does not keep the others from running.
      const during =
        syncing.length === 0
          ? undefined
          : () => {
              for (const hook of syncing) callQuietly(hook);
            };
      const failed = (err: unknown): Error => this.failed(err, group.length);
      let records: NewRecord[];
      try {
        records = group.map((r) => (typeof r === "function" ? r() : r));
      } catch (err) {
        // A record that could not be made fails its batch like a refused write: the chain of writes goes on.
        return failed(err);
      }
      return this.store.append(this.id, records, during).then(() => undefined, failed);
    });
    this.lastAppend = write;
    return write;
  }

  /**
   * Takes a write the store began for this session before it was live (a turn's opening, written during the
   * resume: SessionStore.resume), before anything is appended: later batches are written after it, and its
   * failure is the running turn's, as an append's is. Resolves once it is written or refused.
   */
  adoptWrite(written: Promise<void>, records: number): Promise<void> {
    const write = written.then(
      () => undefined,
      (err: unknown) => this.failed(err, records),
    );
    this.lastAppend = write;
    return write.then(NOTHING);
  }

  /** A batch of `records` the store refused: the first such failure is kept for the running turn. */
  private failed(err: unknown, records: number): Error {
    const failure = err instanceof Error ? err : new Error(String(err));
    this.writeFailure ??= failure;
    log.error(`session ${this.id}: could not append ${records} record(s) to the store: ${errorMessage(err)}`);
    return failure;
  }

  private takePending(): NewRecord[] {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const p = this.pending;
    this.pending = [];
    return p.map(traceRecord);
  }

  /** The store failure seen since the last call, if any (and forgets it). */
  takeWriteFailure(): Error | null {
    const failure = this.writeFailure;
    this.writeFailure = null;
    return failure;
  }

  /** Resolves once every event traced so far is in the store (or refused by it: see takeWriteFailure). */
  flushTrace(): Promise<void> {
    return this.append([]);
  }
}

/** A record made only when its batch is about to be written (see traceDecided). */
type DecidedRecord = () => NewRecord;

const NOTHING = (): void => undefined;

interface HistoryCount {
  of: Message[] | null;
  messages: number;
  chars: number;
}

const NOT_COUNTED: HistoryCount = { of: null, messages: 0, chars: 0 };

function messageChars(m: Message): number {
  let n = m.content.length;
  if (m.role === "assistant") {
    for (const c of m.toolCalls ?? []) n += c.rawArguments.length;
    for (const t of m.thinking ?? []) n += t.type === "thinking" ? t.text.length : t.data.length;
  }
  return n;
}

/** The trace record of a published event. */
export function traceRecord(e: SessionEvent): NewRecord {
  return { kind: "event", ts: e.ts, event: { seq: e.seq, type: e.body.kind, turn: e.turn, data: e.body.data } };
}
