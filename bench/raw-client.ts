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

export interface StartTimes {
  /** ms from t0 until a connection to the socket succeeded. */
  accepted: number;
  /** ms from t0 until the first request on it was answered. */
  answered: number;
}

/** Polls `path` (1 ms apart) until a connection succeeds and then until a request on it is answered. */
export async function pollStart(path: string, frame: Uint8Array, t0: number, timeoutMs = 15_000): Promise<StartTimes> {
  for (;;) {
    let accepted = 0;
    try {
      const c = await rawClient(path);
      accepted = performance.now() - t0;
      await c.request(frame);
      const answered = performance.now() - t0;
      c.close();
      return { accepted, answered };
    } catch {
      if (performance.now() - t0 > timeoutMs) throw new Error(`nothing answered on ${path} within ${timeoutMs} ms`);
      await Bun.sleep(1);
    }
  }
}
