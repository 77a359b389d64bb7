/**
 * A raw framed socket for tests that must send bytes no well-behaved client
 * would: oversized lengths, garbage payloads, partial frames.
 */
import { serverMessage } from "../../src/protocol/codec.ts";
import type { ServerMessage } from "../../src/protocol/gen/crabtalk.ts";
import { FrameReader } from "../../src/transport/framing.ts";
import type { Socket } from "bun";

export interface RawConn {
  write(bytes: Uint8Array): void;
  /** Next decoded reply, or null when the daemon closed the connection first. */
  next(timeoutMs?: number): Promise<ServerMessage | null>;
  /** Next raw frame payload. */
  nextFrame(timeoutMs?: number): Promise<Uint8Array | null>;
  readonly closed: Promise<void>;
  isClosed(): boolean;
  close(): void;
}

export async function rawConnect(target: { unix: string } | { hostname: string; port: number }): Promise<RawConn> {
  const reader = new FrameReader();
  const frames: Uint8Array[] = [];
  const waiters: ((f: Uint8Array | null) => void)[] = [];
  let closed = false;
  let resolveClosed!: () => void;
  const closedPromise = new Promise<void>((r) => (resolveClosed = r));
  const onClose = () => {
    closed = true;
    resolveClosed();
    for (const w of waiters.splice(0)) w(null);
  };
  const socket: Socket<undefined> = await Bun.connect({
    ...(target as { unix: string }),
    socket: {
      data(_s, chunk) {
        for (const f of reader.push(new Uint8Array(chunk))) {
          const w = waiters.shift();
          if (w) w(f);
          else frames.push(f);
        }
      },
      close: onClose,
      error: onClose,
    },
  });
  const nextFrame = (timeoutMs = 5000): Promise<Uint8Array | null> => {
    const f = frames.shift();
    if (f) return Promise.resolve(f);
    if (closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame within ${timeoutMs} ms`)), timeoutMs);
      waiters.push((frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
    });
  };
  return {
    write: (bytes) => void socket.write(bytes),
    nextFrame,
    async next(timeoutMs) {
      const f = await nextFrame(timeoutMs);
      return f ? serverMessage.decode(f) : null;
    },
    closed: closedPromise,
    isClosed: () => closed,
    close: () => socket.end(),
  };
}

export function lengthPrefix(length: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, length, false);
  return b;
}

export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.byteLength);
  out.set(lengthPrefix(payload.byteLength));
  out.set(payload, 4);
  return out;
}
