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
 * Writes: the first frame queued in a turn of the event loop is written at
 * once (a streamed token is not held back); frames queued after it in the
 * same turn wait for one coalesced write when the loop next turns
 * (setImmediate). A replay of 10,000 events, produced in a few turns, went
 * out as 10,000 writes of ~60 bytes, and the write calls were two thirds of
 * the daemon's time; a token per network read still goes out at once.
 * `close()` of the owner should `flush()` first: frames of the current turn
 * are otherwise dropped with the rest of the queue.
 *
 * Producers either `send()` (await room: the stream pauses) or `offer()`
 * (never wait: false when full). When frames sit unsent for `stallTimeoutMs`
 * with no write progress, the queue gives up: `onStall` fires and the owner
 * drops the connection.
 *
 * Frames waiting in `send()` for room are memory too: a peer that asks for
 * a hundred 10 MB replies and reads none would otherwise pin a gigabyte of
 * them. With `{ bounded: true }` a waiting frame counts against the same
 * byte bound: one frame may always wait (as one is always admitted), more
 * only while the waiting bytes stay within `maxBytes`; past that, send
 * rejects with UnreadBacklog instead of waiting. Unbounded senders must
 * bound their own concurrency (an error reply per in-flight request).
 */
import { ConnectionClosed } from "./framing.ts";

/** Refusal of a bounded send: the peer has not read what it was already sent. Code 429 in wire terms. */
export class UnreadBacklog extends Error {
  readonly code = 429;
  constructor(
    readonly queuedBytes: number,
    readonly waitingBytes: number,
    readonly maxBytes: number,
  ) {
    super(
      `this connection has ${mib(queuedBytes + waitingBytes)} MiB of replies its peer has not read (limit ${mib(maxBytes)} MiB, plus one waiting reply); read the replies already sent before asking for more`,
    );
    this.name = "UnreadBacklog";
  }
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

export const DEFAULT_MAX_FRAMES = 256;
export const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
/** A peer that takes nothing for 30 s is gone or stuck; holding its queue longer only wastes memory. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;
/** 64 KiB per write: the size of a typical socket send buffer chunk; larger gains nothing. */
const COALESCE_BYTES = 64 * 1024;

/**
 * What the queue writes to: returns bytes accepted (may be fewer than offered), or -1 when closed. It
 * must not keep `data` once write() returns (a coalesced batch is a scratch buffer, reused at the next).
 */
export interface ByteSink {
  write(data: Uint8Array): number;
}

/** Where coalesced frames are laid end to end for one write (see takeBatch); shared, as writes are synchronous. */
let scratch: Uint8Array | undefined;

export interface OutboundQueueOptions {
  maxFrames?: number;
  maxBytes?: number;
  stallTimeoutMs?: number;
  onStall?: () => void;
  /**
   * The sink takes whole messages (a WebSocket): each write is one queued
   * frame, never several coalesced, and the sink accepts all of it or none.
   */
  messages?: boolean;
}

export class OutboundQueue {
  private readonly frames: Uint8Array[] = [];
  private bytes = 0;
  /** Bytes of frames waiting in send() for room, not yet queued. */
  private waiting = 0;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private stallTimer: ReturnType<typeof setTimeout> | null = null;
  /** Set from a frame written at once until the loop turns: frames queued meanwhile wait for one write then. */
  private burst: ReturnType<typeof setImmediate> | null = null;
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

  /** Bytes of frames held by senders waiting for room. */
  get waitingBytes(): number {
    return this.waiting;
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
    if (this.burst === null) {
      this.flush();
      if (!this.closed) this.burst = setImmediate(this.endBurst);
    }
    return true;
  }

  private readonly endBurst = (): void => {
    this.burst = null;
    this.flush();
  };

  /**
   * Queues a frame, waiting for room first. Rejects with ConnectionClosed
   * once the queue is closed; with `bounded`, rejects with UnreadBacklog
   * when other frames already wait and this one would take them past the
   * byte bound.
   */
  async send(frame: Uint8Array, options: { bounded?: boolean } = {}): Promise<void> {
    if (this.offer(frame)) return;
    if (this.closed) throw this.closed;
    const size = frame.byteLength;
    if (options.bounded && this.waiting > 0 && this.waiting + size > this.maxBytes)
      throw new UnreadBacklog(this.bytes, this.waiting, this.maxBytes);
    this.waiting += size;
    try {
      do {
        await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
        if (this.closed) throw this.closed;
      } while (!this.offer(frame));
    } finally {
      this.waiting -= size;
    }
  }

  /**
   * Writes as much as the sink takes. Call again when the sink drains.
   * Queued frames are coalesced into one write of up to COALESCE_BYTES: a
   * streamed token is a ~50-byte frame, and one syscall per token would cap
   * a connection far below what a fast provider produces.
   */
  flush(): void {
    let progressed = false;
    while (this.frames.length > 0 && !this.closed) {
      const batch = this.takeBatch();
      const written = this.sink.write(batch);
      if (written < 0) {
        this.close(new ConnectionClosed("peer closed the connection"));
        return;
      }
      if (written > 0) progressed = true;
      this.consumeBytes(written);
      if (written < batch.byteLength) break;
    }
    if (progressed || this.frames.length === 0) this.resetStallTimer();
    else if (!this.stallTimer) this.armStallTimer();
    if (this.hasRoom()) this.wakeWaiters();
  }

  /** The head frame alone, or several queued frames concatenated. */
  private takeBatch(): Uint8Array {
    const head = this.frames[0]!;
    if (this.options.messages || this.frames.length === 1 || head.byteLength >= COALESCE_BYTES) return head;
    let size = 0;
    let count = 0;
    for (const f of this.frames) {
      if (count > 0 && size + f.byteLength > COALESCE_BYTES) break;
      size += f.byteLength;
      count++;
    }
    if (count === 1) return head;
    // Copied into the one scratch buffer every queue shares: the sink copies what it takes before write()
    // returns (the queue keeps what it did not take), and nothing else runs in between.
    scratch ??= new Uint8Array(COALESCE_BYTES);
    const batch = scratch.subarray(0, size);
    let at = 0;
    for (let i = 0; i < count; i++) {
      batch.set(this.frames[i]!, at);
      at += this.frames[i]!.byteLength;
    }
    return batch;
  }

  /** Drops `n` written bytes from the front of the queue, keeping a partly written frame's rest. */
  private consumeBytes(n: number): void {
    this.bytes -= n;
    while (n > 0) {
      const head = this.frames[0]!;
      if (n >= head.byteLength) {
        n -= head.byteLength;
        this.frames.shift();
      } else {
        this.frames[0] = head.subarray(n);
        n = 0;
      }
    }
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
    if (this.burst) clearImmediate(this.burst);
    this.burst = null;
    this.frames.length = 0;
    this.bytes = 0;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(reason);
  }
}
