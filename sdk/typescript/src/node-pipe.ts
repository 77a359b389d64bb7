/**
 * A FramedPipe (src/transport/pipe.ts) over a node:net socket, so the
 * package runs on Node and on Bun alike (the daemon's own transport uses
 * Bun.connect). Frames use the project's framing (4-byte big-endian length);
 * writes wait for 'drain' when the socket's buffer is full.
 */
import type { Duplex } from "node:stream";
import { ConnectionClosed, encodeFrame, FrameReader } from "../../../src/transport/framing.ts";
import { type FramedPipe, PushPipe } from "../../../src/transport/pipe.ts";

/** Wraps a connected (or connecting) socket; the pipe ends when the socket closes. */
export function socketPipe(socket: Duplex): FramedPipe {
  const frames = new FrameReader();
  const pipe = new PushPipe({
    send: (frame) =>
      new Promise<void>((resolve, reject) => {
        if (socket.destroyed) return reject(new ConnectionClosed());
        const ok = socket.write(encodeFrame(frame), (err) => err && reject(err));
        if (ok) resolve();
        else socket.once("drain", () => resolve());
      }),
    close: () => socket.destroy(),
  });
  socket.on("data", (chunk: Buffer) => {
    try {
      for (const frame of frames.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)))
        pipe.deliver(frame);
    } catch (err) {
      pipe.end(err as Error);
      socket.destroy();
    }
  });
  socket.on("error", () => {}); // 'close' follows and ends the pipe
  socket.on("close", () => pipe.end(new ConnectionClosed()));
  return pipe;
}

/** Resolves once `socket` is connected; rejects with the connect error. */
export function connected(socket: Duplex & { connecting?: boolean }): Promise<void> {
  if (socket.connecting === false) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.off("error", onError);
      resolve();
    });
  });
}
