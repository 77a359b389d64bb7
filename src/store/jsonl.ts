/**
 * The file backend of the session store: one append-only JSONL file per
 * session, `<dir>/<id>.jsonl` (directory 0700, files 0600), plus
 * `<dir>/next-id`, the id high-water mark, `<dir>/<id>.jsonl.torn`
 * where torn last lines are moved, and `<dir>/<id>.jsonl.ckpt`, the resume
 * checkpoint (checkpoint.ts: a validated hint, rebuilt when missing). One store instance per directory (the
 * daemon's lock file guarantees it).
 *
 * Writes. Each append batch is one write of whole lines to a file opened
 * O_APPEND, queued per session so concurrent appends land whole and in
 * call order. A write that fails part-way leaves the tail to be repaired
 * before the next one.
 *
 * Durability policy (fsync = "messages", the default):
 * - fdatasync after every batch holding a message, compaction,
 *   interruption, title or turn-end event; those appends resolve only
 *   once the data is on stable storage;
 * - trace events in between (turn start, tool start, usage, deltas if the
 *   caller stores them) are written to the page cache only and become
 *   durable with the next synced batch or at flush()/close();
 * - create() hands out an id only once its session file is durable (fsync +
 *   directory fsync). The file is the id's record: open() takes the next id
 *   past the highest file, and an exclusive create skips any id whose file
 *   exists. next-id, the counter, is then updated without an fsync within
 *   a second (off every turn's path); it only has to outlive files that are
 *   gone, so delete() makes it durable past the id before removing the
 *   file. A handed-out id survives any crash and is never reused.
 * A killed process (kill -9) loses nothing whose append resolved: the
 * kernel holds it. A power cut loses at most the trace events written
 * since the last synced batch, i.e. the events of the step in progress;
 * every completed message survives. Either may leave a torn last line,
 * which load() detects, moves aside and reports once.
 * fsync = "always" syncs every batch; "none" (tests) never syncs.
 *
 * Memory: a compact summary per session (about 300 bytes) once listed;
 * messages are held only by the caller of load(); reads stream in 64 KiB
 * chunks.
 */
import { mkdir, readFile, rm, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import {
  SessionFolder,
  looksLikeEvent,
  metaRecord,
  pageSummaries,
  parseRecord,
  prepareBatch,
  serialize,
  snapshotRecord,
} from "./fold.ts";
import { foldForResume, removeCheckpoint } from "./checkpoint.ts";
import type { RequestPrefixEncoder } from "./request-prefix.ts";
import { AppendHandles, DirSync } from "./append-handles.ts";
import {
  foldWholeLog,
  repairTail,
  scanIds,
  summarizeFile,
  syncFile,
  whenMissing,
  writeAtomic,
  writeLines,
} from "./jsonl-files.ts";
import { readLines } from "./line-reader.ts";
import { DEFAULT_SEARCH_LIMIT, queryTerms } from "./search.ts";
import { SearchIndex } from "./search-index.ts";
import { ViewSaves } from "./view-saves.ts";
import { logger } from "../util/log.ts";
import {
  type EventRecord,
  type ListOptions,
  type LoadedSession,
  type NewRecord,
  type ResumedSession,
  type SearchHit,
  type SearchOptions,
  type SessionInit,
  type SessionPage,
  type SessionStore,
  type SessionSummary,
  type StoredRecord,
  type TornLine,
  type TurnOpening,
  SessionNotFoundError,
  StoreClosedError,
} from "./types.ts";

const log = logger("store");

export type FsyncPolicy = "messages" | "always" | "none";

export interface JsonlStoreOptions {
  /** See the durability policy above; default "messages". */
  fsync?: FsyncPolicy;
  /** See saveLater; default VIEW_SAVE_QUIET_MS. */
  viewSaveQuietMs?: number;
  /** Gives the request prefix a view checkpoint keeps (checkpoint.ts); without it none is kept. */
  requestPrefix?: RequestPrefixEncoder;
}

/** Files summarized at once when listing for the first time: enough to hide latency, few enough to bound open files and buffers. */
const INDEX_CONCURRENCY = 8;
/** How long after a create next-id is written (see counterLater). */
const COUNTER_DELAY_MS = 1000;
/**
 * How long a session goes without an append before a view checkpoint a
 * resume earned is written when no turn end came first (see view-saves.ts):
 * longer than the gaps between a streaming turn's trace writes (100 ms),
 * so a turn that streams is not interrupted by it; one that waits longer
 * on its model may see it written meanwhile, which delays nothing but an
 * append queued behind it.
 */
const VIEW_SAVE_QUIET_MS = 250;

interface SessionState {
  summary: SessionSummary;
  /** Totals changed since the last snapshot on disk. */
  dirty: boolean;
  /** Bytes written but not yet fsynced. */
  unsynced: boolean;
  /** The file is known to end with a newline (checked once per process, again after a failed write). */
  tailChecked: boolean;
  deleted: boolean;
  /** A torn line repaired on append, waiting for the next load() to report it. */
  pendingTorn?: TornLine;
  /** Whether the log ends inside a turn; unknown until a fold, a create or an append of a start or an end says. */
  turnOpen?: boolean;
}

/**
 * A turn's opening being written from a resume's cut on: `write` settles to its error, if any, and `before`
 * is restored if it is cut off again.
 */
interface EarlyOpening {
  cut: number;
  write: Promise<Error | undefined>;
  before: Pick<SessionState, "summary" | "dirty" | "turnOpen">;
}

export class JsonlSessionStore implements SessionStore {
  private readonly known = new Map<number, SessionState>();
  private readonly resolving = new Map<number, Promise<SessionState | undefined>>();
  /** Deleted ids (never reused, so a tombstone stays true); stops a summary read racing a delete from resurrecting one. */
  private readonly deleted = new Set<number>();
  private readonly chains = new Map<number, Promise<unknown>>();
  private idChain: Promise<unknown> = Promise.resolve();
  /** Session files kept open for appending (see append-handles.ts). */
  private readonly appends = new AppendHandles();
  /** fsync of the sessions directory, its descriptor kept open. */
  private readonly dirSync: DirSync;
  private indexing: Promise<void> | undefined;
  /** next-id is behind the ids handed out (see counterLater). */
  private counterStale = false;
  private counterTimer: ReturnType<typeof setTimeout> | undefined;
  /** Created by the first search; told of every write and delete from then on. */
  private searchIndex: SearchIndex | undefined;
  private closed = false;
  /** View checkpoints resumes earned, waiting to be written (see view-saves.ts). */
  private readonly viewSaves: ViewSaves;

  private constructor(
    readonly dir: string,
    private readonly fsync: FsyncPolicy,
    private nextId: number,
    viewSaveQuietMs: number,
    private readonly requestPrefix: RequestPrefixEncoder | undefined,
  ) {
    this.dirSync = new DirSync(dir);
    this.viewSaves = new ViewSaves(
      viewSaveQuietMs,
      (id, work) => this.enqueue(id, work),
      (id) => this.deleted.has(id),
    );
  }

  /** Opens (creating) the directory; the next id is the larger of next-id and the highest file id + 1. */
  static async open(dir: string, opts: JsonlStoreOptions = {}): Promise<JsonlSessionStore> {
    // Created private; an existing directory's mode is the daemon's start-up check to judge, never changed here.
    // The three calls need nothing from each other, so they go to the file-system threads at once (one round
    // trip instead of three on the daemon's way to its first answer). A directory made by this mkdir holds
    // neither file, so a read that runs first and finds it missing (ENOENT) has read what is there.
    const [, counter, ids] = await Promise.all([
      mkdir(dir, { recursive: true, mode: 0o700 }),
      readFile(join(dir, "next-id"), "utf8").catch(whenMissing(undefined)),
      scanIds(dir).catch(whenMissing([])),
    ]);
    let next = 1;
    const n = counter === undefined ? Number.NaN : Number.parseInt(counter, 10);
    if (Number.isSafeInteger(n) && n > 0) next = n;
    for (const id of ids) next = Math.max(next, id + 1);
    return new JsonlSessionStore(
      dir,
      opts.fsync ?? "messages",
      next,
      opts.viewSaveQuietMs ?? VIEW_SAVE_QUIET_MS,
      opts.requestPrefix,
    );
  }

  private path(id: number): string {
    return join(this.dir, `${id}.jsonl`);
  }

  async create(init: SessionInit): Promise<SessionSummary> {
    this.checkOpen();
    const run = this.idChain.then(async () => {
      const sync = this.fsync !== "none";
      for (;;) {
        const id = this.nextId;
        this.nextId = id + 1;
        const ts = Date.now();
        const meta = metaRecord(init, id, ts);
        // The directory entry is made durable alongside the file's own write and fsync.
        if (!(await this.appends.create(this.path(id), `${serialize(meta)}\n`, sync, () => this.dirSync.sync())))
          continue;
        const fresh = new SessionFolder(meta).summary;
        this.known.set(id, {
          summary: fresh,
          dirty: false,
          unsynced: false,
          tailChecked: true,
          deleted: false,
          turnOpen: false,
        });
        return { ...fresh };
      }
    });
    // The counter follows, unsynced and later (see the durability notes above).
    void run.then(
      () => this.counterLater(),
      () => undefined,
    );
    return run;
  }

  append(id: number, records: readonly NewRecord[], onSyncing?: () => void): Promise<void> {
    const run = this.enqueue(id, async () => {
      const st = await this.live(id);
      if (records.length > 0) await this.appendNow(id, st, records, onSyncing);
    });
    this.viewSaves.appended(id, records);
    return run;
  }

  /** An append's work, in the session's queue. */
  private async appendNow(
    id: number,
    st: SessionState,
    records: readonly NewRecord[],
    onSyncing?: () => void,
  ): Promise<void> {
    const torn = await this.checkTail(id, st);
    if (torn) st.pendingTorn = torn;
    const batch = prepareBatch(st.summary, records, Date.now(), st.dirty);
    await this.write(id, st, batch.records, batch.durable, onSyncing);
    st.summary = batch.summary;
    st.dirty = batch.dirty;
    if (batch.turnOpen !== undefined) st.turnOpen = batch.turnOpen;
  }

  load(id: number): Promise<LoadedSession | undefined> {
    return this.enqueue(id, async () => {
      const st = await this.state(id);
      if (!st || st.deleted) return undefined;
      const torn = (await this.checkTail(id, st)) ?? st.pendingTorn;
      st.pendingTorn = undefined;
      const folder = await foldWholeLog(this.path(id));
      if (!folder) return undefined;
      const loaded = folder.finish();
      if (torn) loaded.tornLine = torn;
      // The full fold is authoritative; keep the listing in step with it.
      st.summary = { ...folder.summary };
      st.turnOpen = loaded.interruptedTurn !== undefined;
      return loaded;
    });
  }

  resume(id: number, opening?: TurnOpening): Promise<ResumedSession | undefined> {
    // The caller has the session once the fold ends; an opening still being written holds the queue till it is.
    return new Promise((resolve, reject) => {
      this.enqueue(id, async () => {
        const st = await this.state(id);
        if (!st || st.deleted) return resolve(undefined);
        const torn = (await this.checkTail(id, st)) ?? st.pendingTorn;
        st.pendingTorn = undefined;
        // Its numbering known, and no turn left open to mark first: the opening goes out from the fold's cut on,
        // at once when the log's end is known (its append handle is open), else once the fold has looked.
        const lastSeq = st.summary.lastSeq;
        const takes = opening !== undefined && st.turnOpen === false;
        let early: EarlyOpening | undefined;
        const begin = (cut: number) => {
          early = this.beginOpening(id, st, opening!.records(lastSeq), cut);
        };
        const end = takes ? this.appends.sizeOf(this.path(id)) : undefined;
        if (end !== undefined) begin(end);
        const cut = end !== undefined ? { cut: end } : takes ? { onCut: begin } : {};
        let fold: Awaited<ReturnType<typeof foldForResume>>;
        try {
          fold = await foldForResume(this.path(id), { encodePrefix: this.requestPrefix, ...cut });
        } catch (err) {
          if (early) await this.cutOff(id, st, early);
          throw err;
        }
        const resumed = fold?.session;
        if (early && (!resumed || resumed.lastSeq !== lastSeq || resumed.interruptedTurn)) {
          // What the store knew is not what the log holds (a file changed behind its back): the caller writes its own.
          log.warn(`session ${id}: its log is not what this store last wrote (another writer?); resumed as it is now`);
          await this.cutOff(id, st, early);
          early = undefined;
        }
        if (!fold || !resumed) return resolve(undefined);
        if (torn) resumed.tornLine = torn;
        if (fold.saveView) this.viewSaves.later(id, fold.saveView);
        if (!early) {
          // The fold (resumed from its own checkpointed state) is as authoritative as load()'s.
          st.summary = { ...resumed.meta };
          st.turnOpen = resumed.interruptedTurn !== undefined;
          return resolve(resumed);
        }
        // The summary is the one the opening was numbered from (the fold agreed), with the opening's records.
        const { write } = early;
        resumed.opened = { written: write.then((err) => (err ? Promise.reject(err) : undefined)) };
        resolve(resumed);
        await write;
      }).catch(reject);
    });
  }

  /** Starts writing a turn's opening at the log's end, `cut`, in the resume's turn of the session's queue. */
  private beginOpening(id: number, st: SessionState, records: NewRecord[], cut: number): EarlyOpening {
    const before = { summary: st.summary, dirty: st.dirty, turnOpen: st.turnOpen };
    const write = this.appendNow(id, st, records).then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
    this.viewSaves.appended(id, records);
    return { cut, write, before };
  }

  /** Cuts an opening written past a fold's cut off the log again (the resume then leaves it to its caller). */
  private async cutOff(id: number, st: SessionState, opening: EarlyOpening): Promise<void> {
    if (await opening.write) return; // a failed write is cut back by AppendHandles
    await this.appends.forget(this.path(id));
    await truncate(this.path(id), opening.cut);
    if (this.fsync !== "none") await syncFile(this.path(id));
    Object.assign(st, opening.before);
    this.searchIndex?.touch(id);
  }

  async summary(id: number): Promise<SessionSummary | undefined> {
    this.checkOpen();
    const st = await this.state(id);
    return st && !st.deleted ? { ...st.summary } : undefined;
  }

  async list(opts: ListOptions): Promise<SessionPage> {
    this.checkOpen();
    await this.indexAll();
    const rows: SessionSummary[] = [];
    for (const st of this.known.values()) if (!st.deleted) rows.push(st.summary);
    return pageSummaries(rows, opts);
  }

  readEvents(id: number, afterSeq: number): AsyncIterable<EventRecord> {
    return this.stream(id, (line) => {
      if (!looksLikeEvent(line)) return undefined;
      const r = parseRecord(line);
      return r?.kind === "event" && r.event.seq > afterSeq ? r : undefined;
    });
  }

  records(id: number): AsyncIterable<StoredRecord> {
    return this.stream(id, parseRecord);
  }

  /** The cut (file size after every earlier append) is taken now, at the call; lines are read on iteration. */
  private stream<R>(id: number, pick: (line: string) => R | undefined): AsyncIterable<R> {
    const end = this.settledSize(id);
    end.catch(() => undefined); // reported when iterated; never an unhandled rejection
    const path = this.path(id);
    return {
      async *[Symbol.asyncIterator]() {
        for await (const line of readLines(path, { end: await end })) {
          const r = pick(line.text);
          if (r !== undefined) yield r;
        }
      },
    };
  }

  /** Ranked exactly as searchSessions (search.ts) would, from the index (search-index.ts) instead of a scan. */
  async search(query: string, opts?: SearchOptions): Promise<SearchHit[]> {
    this.checkOpen();
    const limit = Math.max(1, Math.floor(opts?.limit ?? DEFAULT_SEARCH_LIMIT));
    const terms = queryTerms(query);
    if (terms.length === 0) return [];
    const { sessions } = await this.list({ offset: 0, limit: Number.MAX_SAFE_INTEGER });
    this.searchIndex ??= new SearchIndex(this.dir);
    return this.searchIndex.search(sessions, terms, limit);
  }

  /** Bytes the search index holds in memory (0 before the first search). */
  searchIndexBytes(): number {
    return this.searchIndex?.memoryBytes() ?? 0;
  }

  /**
   * Schedules the counter's write COUNTER_DELAY_MS after a create, one write for all the creates in that
   * time, so no turn waits on it or shares the file-system threads with it; flush() and close() write it
   * at once, delete() durably.
   */
  private counterLater(): void {
    this.counterStale = true;
    if (this.counterTimer || this.closed) return;
    this.counterTimer = setTimeout(() => {
      this.counterTimer = undefined;
      if (this.counterStale && !this.closed) this.writeCounter(false).catch(() => undefined);
    }, COUNTER_DELAY_MS);
    this.counterTimer.unref();
  }

  /** Writes next-id, the next id to hand out; callers keep writes in line on idChain (they share a temp file). */
  private counterWrite(sync: boolean): Promise<void> {
    this.counterStale = false;
    return writeAtomic(this.dir, join(this.dir, "next-id"), `${this.nextId}\n`, sync);
  }

  /** counterWrite in line with creates. */
  private writeCounter(sync: boolean): Promise<void> {
    const write = this.idChain.then(() => this.counterWrite(sync));
    this.idChain = write.catch(() => undefined);
    return write;
  }

  async delete(id: number): Promise<boolean> {
    return this.enqueue(id, async () => {
      const st = await this.state(id);
      if (!st || st.deleted) return false;
      // Once the file is gone only the counter remembers the id: it must be durable past it first.
      await this.writeCounter(this.fsync !== "none");
      st.deleted = true;
      this.deleted.add(id);
      await this.appends.forget(this.path(id));
      await rm(this.path(id), { force: true });
      await rm(`${this.path(id)}.torn`, { force: true });
      await removeCheckpoint(this.path(id));
      this.searchIndex?.drop(id);
      this.known.delete(id);
      return true;
    });
  }

  async exists(id: number): Promise<boolean> {
    this.checkOpen();
    const st = await this.state(id);
    return st !== undefined && !st.deleted;
  }

  async flush(): Promise<void> {
    this.checkOpen();
    await this.idChain;
    const sync = this.fsync !== "none";
    if (this.counterStale) await this.writeCounter(sync);
    const jobs: Promise<unknown>[] = [];
    for (const [id, st] of this.known) {
      if (!st.dirty && !st.unsynced) continue;
      jobs.push(
        this.enqueue(id, async () => {
          if (st.deleted) return;
          if (st.dirty) {
            await this.checkTail(id, st);
            await this.write(id, st, [snapshotRecord(st.summary, Math.max(Date.now(), st.summary.lastActive))], true);
            st.dirty = false;
          } else if (st.unsynced && sync) {
            await syncFile(this.path(id));
            st.unsynced = false;
          }
        }),
      );
    }
    await Promise.all(jobs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.viewSaves.flushAll();
    await this.flush();
    this.closed = true;
    clearTimeout(this.counterTimer);
    this.counterTimer = undefined;
    await this.appends.closeAll();
    await this.dirSync.close();
    await this.searchIndex?.close();
  }

  /** Runs `fn` after every earlier operation on the same session; operations on different sessions overlap. */
  private enqueue<T>(id: number, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    const prev = this.chains.get(id) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.catch(() => undefined);
    this.chains.set(id, tail);
    void tail.then(() => {
      if (this.chains.get(id) === tail) this.chains.delete(id);
    });
    return run;
  }

  /** The session's state, summarizing its file on first use; concurrent callers share one read. */
  private async state(id: number): Promise<SessionState | undefined> {
    const known = this.known.get(id);
    if (known) return known;
    if (this.deleted.has(id)) return undefined;
    let pending = this.resolving.get(id);
    if (!pending) {
      pending = summarizeFile(this.path(id))
        .catch(whenMissing(undefined))
        .then((summary) => {
          if (!summary || this.deleted.has(id)) return undefined;
          const st: SessionState = this.known.get(id) ?? {
            summary,
            dirty: false,
            unsynced: false,
            tailChecked: false,
            deleted: false,
          };
          this.known.set(id, st);
          return st;
        })
        .finally(() => this.resolving.delete(id));
      this.resolving.set(id, pending);
    }
    return pending;
  }

  private async live(id: number): Promise<SessionState> {
    const st = await this.state(id);
    if (!st || st.deleted) throw new SessionNotFoundError(id);
    return st;
  }

  private async checkTail(id: number, st: SessionState): Promise<TornLine | undefined> {
    if (st.tailChecked) return undefined;
    await this.appends.forget(this.path(id)); // the repair may cut the file: reopen after it
    const torn = await repairTail(this.appends, this.path(id), `${this.path(id)}.torn`, this.fsync !== "none");
    st.tailChecked = true;
    if (torn) this.searchIndex?.touch(id);
    return torn;
  }

  private async write(
    id: number,
    st: SessionState,
    records: readonly StoredRecord[],
    durable: boolean,
    onSyncing?: () => void,
  ): Promise<void> {
    const sync = this.fsync === "always" || (durable && this.fsync === "messages");
    try {
      await writeLines(this.appends, this.path(id), records, sync, onSyncing);
    } catch (err) {
      st.tailChecked = false;
      throw err;
    } finally {
      this.searchIndex?.touch(id);
    }
    if (sync) st.unsynced = false;
    else if (this.fsync !== "none") st.unsynced = true;
  }

  /** File size once every earlier append to the session is written: the consistent cut a reader sees. */
  private async settledSize(id: number): Promise<number> {
    return this.enqueue(id, async () => {
      await this.live(id);
      return (await stat(this.path(id))).size;
    });
  }

  private async indexAll(): Promise<void> {
    this.indexing ??= (async () => {
      const ids = (await scanIds(this.dir)).filter((id) => !this.known.has(id));
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < ids.length) await this.state(ids[next++]!);
      };
      await Promise.all(Array.from({ length: INDEX_CONCURRENCY }, worker));
    })();
    try {
      await this.indexing;
    } catch (err) {
      this.indexing = undefined;
      throw err;
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}
