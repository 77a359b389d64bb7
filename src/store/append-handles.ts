/**
 * Open append handles of the session files being written, so an append costs
 * its write (and fsync when asked) instead of open + fstat + write + close
 * around it: each of those is a trip through the file-system thread pool,
 * and a turn's end makes a few appends in a row (measured on `crabtalk
 * send`: its turn end waited 5 such trips per append).
 *
 * Contract: one append per path at a time (the store queues appends per
 * session). The size is tracked so a write that fails part-way (ENOSPC) is
 * cut back to the last whole line, as before; after any failure the handle
 * is closed and the next append opens the file afresh. The store calls
 * forget() before it changes a file by other means (tail repair, delete).
 * At most `max` handles stay open (least recently used closed first; one
 * busy with a write is never closed under it), so thousands of live
 * sessions never meet the open-file limit. Plain descriptors, not
 * FileHandles: a FileHandle left to the garbage collector (a store a test
 * never closes) is an error in Bun, a descriptor is only a leak. DirSync
 * keeps the sessions directory's descriptor open the same way, for the fsync
 * that makes a new file's entry durable.
 */
import { close, fdatasync, fstat, fsync, ftruncate, open, unlink, writeFile } from "node:fs";
import { callQuietly } from "./fold.ts";
import { osErrorText, StoreWriteError } from "./write-error.ts";

interface Handle {
  fd: number;
  /** File size after our last write: where a failed write is cut back to. */
  size: number;
  busy: boolean;
}

/** Session files a store keeps open for appending, at most (see AppendHandles). */
export const MAX_APPEND_HANDLES = 64;

export class AppendHandles {
  /** In least- to most-recently-used order (a Map keeps insertion order). */
  private readonly handles = new Map<string, Handle>();

  constructor(private readonly max = MAX_APPEND_HANDLES) {}

  /**
   * Appends `data` (several pieces are written one after another, whole lines each, so a huge line is handed
   * over on its own instead of being copied into one joined string); fsyncs when `sync`.
   */
  async append(
    path: string,
    data: string | Uint8Array | Iterable<string>,
    sync: boolean,
    onSyncing?: () => void,
  ): Promise<void> {
    const h = await this.take(path);
    let size = h.size;
    try {
      if (typeof data === "string" || data instanceof Uint8Array) size += await write(h.fd, data);
      else for (const piece of data) size += await write(h.fd, piece);
      // The fdatasync is on its way before the caller's work runs (see SessionStore.append's onSyncing).
      const synced = sync ? call<void>((done) => fdatasync(h.fd, done)) : undefined;
      callQuietly(onSyncing);
      await synced;
      h.size = size;
    } catch (err) {
      // Cut the append off again, a partial line (ENOSPC mid-write) or lines whose fsync failed: the caller is
      // told they were not written, so they must not turn up on the next load either.
      await call<void>((done) => ftruncate(h.fd, h.size, done)).catch(() => undefined);
      this.handles.delete(path);
      await closeQuietly(h.fd);
      throw new StoreWriteError(path, osErrorText(err));
    } finally {
      h.busy = false;
    }
  }

  /**
   * Creates a file that must not exist yet with its first content, fsynced when `sync`, and keeps its
   * descriptor for the appends that follow (a new session's first append then opens nothing); false when it
   * already existed. A failed write removes the file again, so no empty or half-written file is left, and
   * throws a StoreWriteError naming it. `syncEntry`, when given with `sync`, makes the new directory entry
   * durable: it starts once the file exists and runs alongside the write and its fsync (the two are
   * independent; both have finished before this resolves).
   */
  async create(path: string, data: string, sync: boolean, syncEntry?: () => Promise<void>): Promise<boolean> {
    let fd: number;
    try {
      fd = await call<number>((done) => open(path, "ax", 0o600, done));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw new StoreWriteError(path, osErrorText(err));
    }
    let size: number;
    // Settles to its error (or undefined) at once, so a failure while the write is still running is never an unhandled rejection.
    const entry =
      sync && syncEntry
        ? syncEntry().then(
            () => undefined,
            (err: unknown) => err ?? new Error("directory fsync failed"),
          )
        : undefined;
    try {
      size = await write(fd, data);
      if (sync) await call<void>((done) => fdatasync(fd, done));
      const entryError = await entry;
      if (entryError !== undefined) throw entryError;
    } catch (err) {
      await entry;
      await closeQuietly(fd);
      await call<void>((done) => unlink(path, done)).catch(() => undefined);
      throw new StoreWriteError(path, osErrorText(err));
    }
    await this.forget(path);
    this.handles.set(path, { fd, size, busy: false });
    await this.evict();
    return true;
  }

  /** Closes the path's handle, if open: the file is about to change by other means. */
  async forget(path: string): Promise<void> {
    const h = this.handles.get(path);
    if (!h) return;
    this.handles.delete(path);
    await closeQuietly(h.fd);
  }

  async closeAll(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map((h) => closeQuietly(h.fd)));
  }

  /** The path's size as this process last wrote it, when its handle is open (the store is its only writer). */
  sizeOf(path: string): number | undefined {
    return this.handles.get(path)?.size;
  }

  /** Number of handles open now (for tests). */
  get openCount(): number {
    return this.handles.size;
  }

  /** The path's handle, opened if need be, marked busy before any other append can evict it. */
  private async take(path: string): Promise<Handle> {
    const known = this.handles.get(path);
    if (known) {
      this.handles.delete(path);
      this.handles.set(path, known);
      known.busy = true;
      return known;
    }
    let fd: number;
    try {
      fd = await call<number>((done) => open(path, "a", 0o600, done));
    } catch (err) {
      throw new StoreWriteError(path, osErrorText(err));
    }
    let size: number;
    try {
      size = (await call<{ size: number }>((done) => fstat(fd, done))).size;
    } catch (err) {
      await closeQuietly(fd);
      throw new StoreWriteError(path, osErrorText(err));
    }
    const h: Handle = { fd, size, busy: true };
    this.handles.set(path, h);
    await this.evict();
    return h;
  }

  private async evict(): Promise<void> {
    for (const [path, h] of this.handles) {
      if (this.handles.size <= this.max) return;
      if (h.busy) continue;
      this.handles.delete(path);
      await closeQuietly(h.fd);
    }
  }
}

/**
 * fsync of one directory through a descriptor kept open until close(), so
 * making a new session file's entry durable (the `syncEntry` of create())
 * costs one trip through the file-system thread pool instead of open, fsync
 * and close. A plain descriptor, as above. A failed open is tried again on
 * the next sync.
 */
export class DirSync {
  private fd: Promise<number> | undefined;

  constructor(private readonly dir: string) {}

  async sync(): Promise<void> {
    this.fd ??= call<number>((done) => open(this.dir, "r", done));
    let fd: number;
    try {
      fd = await this.fd;
    } catch (err) {
      this.fd = undefined;
      throw err;
    }
    await call<void>((done) => fsync(fd, done));
  }

  async close(): Promise<void> {
    const pending = this.fd;
    this.fd = undefined;
    const fd = await pending?.catch(() => undefined);
    if (fd !== undefined) await closeQuietly(fd);
  }
}

/** Writes all of `data` at the end of the file (the descriptor is O_APPEND); returns the bytes written. */
async function write(fd: number, data: string | Uint8Array): Promise<number> {
  await call<void>((done) => writeFile(fd, data, done));
  return typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
}

function closeQuietly(fd: number): Promise<void> {
  return call<void>((done) => close(fd, done)).catch(() => undefined);
}

/** A node:fs callback call as a promise. */
function call<T>(run: (done: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));
}
