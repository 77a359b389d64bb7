/**
 * One raw framed client for benchmarks that compare crabtalk with a bare
 * server (core.ts's echo socket, startup.ts's floor program): the same client
 * code against both, so only the server differs. It counts complete reply
 * frames without decoding them.
 */
import type { Socket } from "bun";
import { FrameReader } from "../src/transport/framing.ts";

export interface FramedClient {
  /** Sends one frame and waits for one reply frame. */
  request(frame: Uint8Array): Promise<void>;
  /** Sends all frames and waits for as many replies. */
  pipeline(frames: Uint8Array[]): Promise<void>;
  close(): void;
}

export async function rawClient(path: string): Promise<FramedClient> {
  const reader = new FrameReader();
  let want = 0;
  let got = 0;
  let done: (() => void) | null = null;
  let failed: ((err: Error) => void) | null = null;
  const socket: Socket<undefined> = await Bun.connect({
    unix: path,
    socket: {
      data(_s, chunk) {
        got += reader.push(new Uint8Array(chunk)).length;
        if (got >= want && done) {
          const d = done;
          done = null;
          d();
        }
      },
      close() {
        failed?.(new Error(`${path} closed the connection before replying`));
      },
    },
  });
  const send = async (frames: Uint8Array[]) => {
    want = got + frames.length;
    const wait = new Promise<void>((resolve, reject) => {
      done = resolve;
      failed = reject;
    });
    const all = Buffer.concat(frames);
    let off = 0;
    while (off < all.length) {
      const n = socket.write(all.subarray(off));
      if (n < 0) throw new Error("socket closed while writing");
      off += n;
      if (off < all.length) await Bun.sleep(0);
    }
    await wait;
  };
  return { request: (f) => send([f]), pipeline: send, close: () => socket.end() };
}

/** Polls `path` (1 ms apart) until a request on it is answered; ms from `t0`. */
export async function pollAnswered(path: string, frame: Uint8Array, t0: number, timeoutMs = 15_000): Promise<number> {
  for (;;) {
    try {
      const c = await rawClient(path);
      await c.request(frame);
      const ms = performance.now() - t0;
      c.close();
      return ms;
    } catch {
      if (performance.now() - t0 > timeoutMs) throw new Error(`nothing answered on ${path} within ${timeoutMs} ms`);
      await Bun.sleep(1);
    }
  }
}
