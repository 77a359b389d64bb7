/**
 * A file opened for positioned reads by its plain descriptor: reads go
 * through the file-system threads like a FileHandle's, but close() is a
 * synchronous close(2). A resume folds its log through one of these: the
 * close of a read-only descriptor waits for no data, and the round trip an
 * asynchronous one costs (0.1 to 0.3 ms on a busy daemon) sat on the
 * resume's path to its first request.
 *
 * Contract: close() never runs while a read is in flight (the descriptor's
 * number could be reused by another open and the read land in that file):
 * a close asked for meanwhile happens when the last read settles. Reads
 * after close() reject.
 */
import { closeSync, fstat, open, read } from "node:fs";

export class ReadDescriptor {
  private inFlight = 0;
  private closing = false;
  private closed = false;

  private constructor(private readonly fd: number) {}

  static open(path: string): Promise<ReadDescriptor> {
    return new Promise((resolve, reject) =>
      open(path, "r", (err, fd) => (err ? reject(err) : resolve(new ReadDescriptor(fd)))),
    );
  }

  /** Reads up to `length` bytes at `position` into `buffer` from `offset`, as FileHandle.read does. */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    if (this.closing) return Promise.reject(new Error("read after close"));
    this.inFlight++;
    return new Promise<{ bytesRead: number }>((resolve, reject) =>
      read(this.fd, buffer, offset, length, position, (err, bytesRead) => {
        this.settle();
        if (err) reject(err);
        else resolve({ bytesRead });
      }),
    );
  }

  stat(): Promise<{ size: number }> {
    if (this.closing) return Promise.reject(new Error("stat after close"));
    this.inFlight++;
    return new Promise((resolve, reject) =>
      fstat(this.fd, (err, st) => {
        this.settle();
        if (err) reject(err);
        else resolve({ size: st.size });
      }),
    );
  }

  /** The descriptor, for synchronous metadata calls (fstatSync) by its holder. */
  get descriptor(): number {
    return this.fd;
  }

  /** Closes now, or once the reads in flight settle. Idempotent. */
  close(): void {
    this.closing = true;
    if (this.inFlight === 0) this.closeNow();
  }

  private settle(): void {
    this.inFlight--;
    if (this.closing && this.inFlight === 0) this.closeNow();
  }

  private closeNow(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // Linux releases the descriptor even when close fails (EIO), and nothing was written through this one.
    }
  }
}
