/**
 * The bounded per-connection write queue. Everything the daemon sends to one
 * peer goes through here, so a peer that stops reading can never make the
 * daemon's memory grow past the bound.
 *
 * Bound: 256 frames or 4 MiB, whichever is reached first. A streamed token is
 * one frame and models stream 50-100 tokens/s, so 256 frames is about three to
 * five seconds of output: enough to ride out a slow link or a GC pause, small
 * enough that 1,000 stalled peers cost at most a few hundred MB in the worst
 * case of large frames and a few MB in the usual case of token frames. One frame
 * is always admitted into an empty queue, whatever its size (up to the 16 MiB
 * frame cap), so a large reply can still go out.
 *
 * Producers either `send()` (await room: the stream pauses) or `offer()`
 * (never wait: false when full). When frames sit unsent for `stallTimeoutMs`
 * with no write progress, the queue gives up: `onStall` fires and the owner
 * drops the connection.
 */
import { ConnectionClosed } from "./framing.ts";

export const DEFAULT_MAX_FRAMES = 256;
export const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
/** A peer that takes nothing for 30 s is gone or stuck; holding its queue longer only wastes memory. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

/** What the queue writes to: returns bytes accepted (may be fewer than offered), or -1 when closed. */
export interface ByteSink {
  write(data: Uint8Array): number;
}

export interface OutboundQueueOptions {
  maxFrames?: number;
  maxBytes?: number;
  stallTimeoutMs?: number;
  onStall?: () => void;
}

export class OutboundQueue {
  private readonly frames: Uint8Array[] = [];
  private bytes = 0;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private stallTimer: ReturnType<typeof setTimeout> | null = null;
  private closed: Error | null = null;
  private readonly maxFrames: number;
  private readonly maxBytes: number;
  private readonly stallTimeoutMs: number;

  constructor(
    private readonly sink: ByteSink,
    private readonly options: OutboundQueueOptions = {},
  ) {
    this.maxFrames = options.maxFrames ?? DEFAULT_MAX_FRAMES;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  }

  get queuedFrames(): number {
    return this.frames.length;
  }

  get queuedBytes(): number {
    return this.bytes;
  }

  private hasRoom(): boolean {
    return this.frames.length === 0 || (this.frames.length < this.maxFrames && this.bytes < this.maxBytes);
  }

  /** Queues a frame if there is room; never waits. */
  offer(frame: Uint8Array): boolean {
    if (this.closed) return false;
    if (!this.hasRoom()) return false;
    this.frames.push(frame);
    this.bytes += frame.byteLength;
    this.flush();
    return true;
  }

  /** Queues a frame, waiting for room first. Rejects with ConnectionClosed once the queue is closed. */
  async send(frame: Uint8Array): Promise<void> {
    while (!this.offer(frame)) {
      if (this.closed) throw this.closed;
      await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
  }

  /** Writes as much as the sink takes. Call again when the sink drains. */
  flush(): void {
    let progressed = false;
    while (this.frames.length > 0 && !this.closed) {
      const head = this.frames[0]!;
      const written = this.sink.write(head);
      if (written < 0) {
        this.close(new ConnectionClosed("peer closed the connection"));
        return;
      }
      if (written > 0) progressed = true;
      this.bytes -= written;
      if (written === head.byteLength) {
        this.frames.shift();
        continue;
      }
      this.frames[0] = head.subarray(written);
      break;
    }
    if (progressed || this.frames.length === 0) this.resetStallTimer();
    else if (!this.stallTimer) this.armStallTimer();
    if (this.hasRoom()) this.wakeWaiters();
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
  }

  private resetStallTimer(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    if (this.frames.length > 0) this.armStallTimer();
  }

  private armStallTimer(): void {
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      if (this.frames.length === 0 || this.closed) return;
      this.options.onStall?.();
    }, this.stallTimeoutMs);
    this.stallTimer.unref?.();
  }

  /** Drops everything queued and fails every waiting sender. */
  close(reason: Error = new ConnectionClosed()): void {
    if (this.closed) return;
    this.closed = reason;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    this.frames.length = 0;
    this.bytes = 0;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(reason);
  }
}
