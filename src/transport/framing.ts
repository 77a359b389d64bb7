/**
 * Length-prefixed framing shared by both protocols: a 4-byte big-endian
 * unsigned length, then that many bytes of one protobuf message.
 *
 * FrameReader is incremental: feed it whatever a socket read returned and it
 * hands back every complete frame, holding partial ones across reads. A
 * declared length over MAX_FRAME_BYTES is unrecoverable for that stream (the
 * reader cannot know where the next frame starts without buffering the whole
 * oversized one), so it throws FrameTooLarge and the caller closes.
 */

/** 16 MiB: the original CrabTalk contract's cap; large enough for any history reply. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const HEADER_BYTES = 4;

export class FrameTooLarge extends Error {
  constructor(readonly declared: number) {
    super(`frame of ${declared} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`);
    this.name = "FrameTooLarge";
  }
}

/**
 * The daemon already holds its budget of partly received frames (see
 * PartialFrameBudget in socket.ts): this connection's frame would take it
 * past that, so the connection is closed.
 */
export class PartialFramesOverBudget extends Error {
  constructor(
    readonly heldBytes: number,
    readonly limitBytes: number,
  ) {
    super(
      `the daemon already holds ${(heldBytes / 1048576).toFixed(1)} MiB of partly received frames across its connections (limit ${limitBytes / 1048576} MiB)`,
    );
    this.name = "PartialFramesOverBudget";
  }
}

/** Marks a peer that went away; its own case so callers can tell it from bad data. */
export class ConnectionClosed extends Error {
  constructor(reason = "connection closed") {
    super(reason);
    this.name = "ConnectionClosed";
  }
}

export function encodeFrame(payload: Uint8Array): Uint8Array {
  if (payload.byteLength > MAX_FRAME_BYTES) throw new FrameTooLarge(payload.byteLength);
  const frame = new Uint8Array(HEADER_BYTES + payload.byteLength);
  new DataView(frame.buffer).setUint32(0, payload.byteLength, false);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Drops whatever partial frame is held (the stream is being abandoned). */
  clear(): void {
    this.chunks = [];
    this.buffered = 0;
  }

  /** Returns the frames completed by `chunk` (possibly none, possibly many). */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.byteLength;
    }
    const frames: Uint8Array[] = [];
    while (this.buffered >= HEADER_BYTES) {
      const length = this.peekLength();
      if (length > this.maxFrameBytes) throw new FrameTooLarge(length);
      if (this.buffered < HEADER_BYTES + length) break;
      this.consume(HEADER_BYTES);
      frames.push(this.consume(length));
    }
    return frames;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.byteLength >= HEADER_BYTES) {
      return new DataView(first.buffer, first.byteOffset, HEADER_BYTES).getUint32(0, false);
    }
    const header = this.copyOut(HEADER_BYTES, false);
    return new DataView(header.buffer).getUint32(0, false);
  }

  private consume(n: number): Uint8Array {
    return this.copyOut(n, true);
  }

  /** Copies (or, when one chunk holds it all, slices) the first n bytes. */
  private copyOut(n: number, remove: boolean): Uint8Array {
    const first = this.chunks[0];
    if (first && first.byteLength >= n) {
      const out = first.subarray(0, n);
      if (remove) {
        if (first.byteLength === n) this.chunks.shift();
        else this.chunks[0] = first.subarray(n);
        this.buffered -= n;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const chunk = this.chunks[i]!;
      const take = Math.min(chunk.byteLength, n - filled);
      out.set(chunk.subarray(0, take), filled);
      filled += take;
      if (remove) {
        if (take === chunk.byteLength) {
          this.chunks.shift();
          continue;
        }
        this.chunks[i] = chunk.subarray(take);
      } else {
        i++;
      }
    }
    if (remove) this.buffered -= n;
    return out;
  }
}
