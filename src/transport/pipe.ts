/**
 * FramedPipe: whole frames in both directions over whatever carries them,
 * so request/response logic (request-channel.ts) is written once for a
 * socket to the daemon, a child process's stdin/stdout, or an in-memory
 * pair in tests.
 *
 * Contract: frames arrive in order through the one receiver; `closed`
 * resolves once, with the reason (null for an orderly close), after the
 * last frame; `send` waits for room (the carrier's own bound, e.g. the
 * socket's OutboundQueue) and rejects once the pipe is closed.
 */
import { ConnectionClosed, encodeFrame, FrameReader } from "./framing.ts";
import { type FramedPipe, PushPipe } from "./push-pipe.ts";
import type { OutboundQueueOptions } from "./outbound-queue.ts";
import { connectFramed, type Endpoint } from "./socket.ts";

export { type FramedPipe, type PipeReceiver, type PipeSink, PushPipe } from "./push-pipe.ts";

/** A pipe over a framed socket connection (Unix or TCP), via socket.ts's bounded queue. */
export async function connectPipe(endpoint: Endpoint, queueOptions: OutboundQueueOptions = {}): Promise<FramedPipe> {
  let send: (frame: Uint8Array) => Promise<void> = () => Promise.reject(new ConnectionClosed("not connected yet"));
  let close = () => {};
  const pipe = new PushPipe({ send: (frame) => send(frame), close: () => close() });
  const conn = await connectFramed(
    endpoint,
    { onFrame: (_conn, frame) => pipe.deliver(frame), onClose: () => pipe.end(new ConnectionClosed()) },
    queueOptions,
  );
  send = (frame) => conn.send(frame);
  close = () => conn.close();
  return pipe;
}

/** Where a stream pipe writes: Bun's FileSink (a child's stdin) or anything shaped like it. */
export interface ByteWriter {
  /** May return a promise when the writer wants the caller to wait (backpressure). */
  write(bytes: Uint8Array): unknown;
  /** Waits for buffered bytes to reach the other side, where the writer supports it. */
  flush?(): unknown;
  end(): unknown;
}

/**
 * A pipe over a byte stream pair, e.g. a child process's stdout (to read)
 * and stdin (to write), with the same 4-byte length framing as sockets.
 * A frame over the cap or a read error ends the pipe with that error.
 */
export function streamPipe(readable: ReadableStream<Uint8Array>, writer: ByteWriter): FramedPipe {
  const reader = readable.getReader();
  const pipe = new PushPipe({
    async send(frame) {
      await writer.write(encodeFrame(frame));
      await writer.flush?.();
    },
    close() {
      void reader.cancel().catch(() => {});
      void Promise.resolve()
        .then(() => writer.end())
        .catch(() => {});
    },
  });
  void (async () => {
    const frames = new FrameReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const frame of frames.push(value)) pipe.deliver(frame);
      }
      pipe.end(frames.pendingBytes > 0 ? new ConnectionClosed("the stream ended inside a frame") : null);
    } catch (err) {
      pipe.end(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  return pipe;
}

/**
 * Two pipes joined back to back in memory (like the MCP SDK's
 * InMemoryTransport), for tests: a frame sent on one arrives on the other
 * on a later microtask, as over a real carrier; closing either closes both.
 */
export function linkedPipes(): [FramedPipe, FramedPipe] {
  const sides: PushPipe[] = [];
  const make = (other: () => PushPipe): PushPipe =>
    new PushPipe({
      send: async (frame) => {
        const copy = frame.slice();
        queueMicrotask(() => other().deliver(copy));
      },
      close: () => other().end(new ConnectionClosed("the other end closed")),
    });
  sides.push(
    make(() => sides[1]!),
    make(() => sides[0]!),
  );
  return [sides[0]!, sides[1]!];
}
