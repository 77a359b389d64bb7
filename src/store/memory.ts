/**
 * The in-memory twin of the file store, for tests and in-process runtime
 * checks. Same interface and semantics: records are kept as the
 * serialized lines the file store would write and parsed back on read, so
 * callers can neither share objects with the store nor see a behaviour the
 * disk would not give them. Ids are never reused within the instance
 * (nothing survives the process, by design). Appends are synchronous under
 * the hood, so ordering and whole records come for free.
 */
import {
  callQuietly,
  SessionFolder,
  metaRecord,
  pageSummaries,
  parseRecord,
  prepareBatch,
  serialize,
  snapshotRecord,
  summaryFromMeta,
} from "./fold.ts";
import { searchSessions } from "./search.ts";
import {
  type EventRecord,
  type ListOptions,
  type LoadedSession,
  type MetaRecord,
  type NewRecord,
  type ResumedSession,
  type SearchHit,
  type SearchOptions,
  type SessionInit,
  type SessionPage,
  type SessionStore,
  type SessionSummary,
  type StoredRecord,
  type TurnOpening,
  SessionNotFoundError,
  StoreClosedError,
} from "./types.ts";

interface Entry {
  lines: string[];
  summary: SessionSummary;
  dirty: boolean;
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<number, Entry>();
  private nextId = 1;
  private closed = false;

  async create(init: SessionInit): Promise<SessionSummary> {
    this.checkOpen();
    const id = this.nextId++;
    const ts = Date.now();
    const meta = metaRecord(init, id, ts);
    const summary = summaryFromMeta(meta);
    this.sessions.set(id, { lines: [serialize(meta)], summary, dirty: false });
    return { ...summary };
  }

  async append(id: number, records: readonly NewRecord[], onSyncing?: () => void): Promise<void> {
    this.checkOpen();
    const e = this.entry(id);
    if (records.length === 0) return;
    const batch = prepareBatch(e.summary, records, Date.now(), e.dirty);
    for (const r of batch.records) e.lines.push(serialize(r));
    e.summary = batch.summary;
    e.dirty = batch.dirty;
    callQuietly(onSyncing);
  }

  async load(id: number): Promise<LoadedSession | undefined> {
    this.checkOpen();
    const e = this.sessions.get(id);
    if (!e) return undefined;
    const [metaLine, ...rest] = e.lines;
    const folder = new SessionFolder(parseRecord(metaLine!) as MetaRecord);
    for (const line of rest) {
      const r = parseRecord(line);
      if (r) folder.add(r);
      else folder.corrupt++;
    }
    return folder.finish();
  }

  /**
   * The twin keeps no checkpoint: load() without the whole list, which is what resume() must equal. It knows
   * every session's numbering, so it takes every opening it may (none after a turn left open), appended at once.
   */
  async resume(id: number, opening?: TurnOpening): Promise<ResumedSession | undefined> {
    const loaded = await this.load(id);
    if (!loaded) return undefined;
    const { allMessages: _, ...rest } = loaded;
    if (!opening || loaded.interruptedTurn) return rest;
    return { ...rest, opened: { written: this.append(id, opening.records(loaded.lastSeq)) } };
  }

  async summary(id: number): Promise<SessionSummary | undefined> {
    this.checkOpen();
    const e = this.sessions.get(id);
    return e ? { ...e.summary } : undefined;
  }

  async list(opts: ListOptions): Promise<SessionPage> {
    this.checkOpen();
    return pageSummaries(
      [...this.sessions.values()].map((e) => e.summary),
      opts,
    );
  }

  readEvents(id: number, afterSeq: number): AsyncIterable<EventRecord> {
    return this.stream(id, (r) => (r.kind === "event" && r.event.seq > afterSeq ? r : undefined));
  }

  records(id: number): AsyncIterable<StoredRecord> {
    return this.stream(id, (r) => r);
  }

  /** The cut (lines appended so far) is taken at the call, as in the file store; errors surface on iteration. */
  private stream<R>(id: number, pick: (r: StoredRecord) => R | undefined): AsyncIterable<R> {
    const e = this.sessions.get(id);
    const end = e?.lines.length ?? 0;
    const closed = this.closed;
    return {
      async *[Symbol.asyncIterator]() {
        if (closed) throw new StoreClosedError();
        if (!e) throw new SessionNotFoundError(id);
        for (let i = 0; i < end; i++) {
          const r = parseRecord(e.lines[i]!);
          if (!r) continue;
          const picked = pick(r);
          if (picked !== undefined) yield picked;
        }
      },
    };
  }

  async search(query: string, opts?: SearchOptions): Promise<SearchHit[]> {
    this.checkOpen();
    return searchSessions(this, query, opts);
  }

  async delete(id: number): Promise<boolean> {
    this.checkOpen();
    return this.sessions.delete(id);
  }

  async exists(id: number): Promise<boolean> {
    this.checkOpen();
    return this.sessions.has(id);
  }

  /** Writes the pending totals snapshots, as the file store does, so both logs read the same. */
  async flush(): Promise<void> {
    this.checkOpen();
    for (const e of this.sessions.values()) {
      if (!e.dirty) continue;
      e.lines.push(serialize(snapshotRecord(e.summary, Math.max(Date.now(), e.summary.lastActive))));
      e.dirty = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
  }

  private entry(id: number): Entry {
    const e = this.sessions.get(id);
    if (!e) throw new SessionNotFoundError(id);
    return e;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}
