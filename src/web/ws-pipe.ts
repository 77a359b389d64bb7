/**
 * A FramedPipe over a WebSocket: the dashboard's carrier to the daemon's
 * bridge (`GET /ws`). Each binary WebSocket message is exactly one protobuf
 * frame, with no length prefix (WebSocket messages are already delimited);
 * browser → daemon a ClientMessage, daemon → browser a ServerMessage, so the
 * request channel and ClientCore run over it unchanged.
 *
 * Works with any WHATWG WebSocket (the browser's, or Bun's in tests).
 * Backpressure: send() waits while more than HIGH_WATER bytes are queued in
 * the socket, polling bufferedAmount (WebSocket has no drain event).
 */
import { ConnectionClosed } from "../transport/framing.ts";
import { type FramedPipe, PushPipe } from "../transport/push-pipe.ts";

const HIGH_WATER = 1 << 20;

/** The part of the WHATWG WebSocket this pipe uses. */
interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
}

const OPEN = 1;

/**
 * Opens `url` and resolves with the pipe once the socket is open; rejects
 * with ConnectionClosed when it closes or fails first (daemon down, login
 * refused: the HTTP upgrade's status is not visible to scripts).
 */
export function openWsPipe(
  url: string,
  make: (url: string) => SocketLike = (u) => new WebSocket(u),
): Promise<FramedPipe> {
  return new Promise((resolve, reject) => {
    let ws: SocketLike;
    try {
      ws = make(url);
    } catch (err) {
      reject(new ConnectionClosed(`cannot open ${url}: ${String(err)}`));
      return;
    }
    ws.binaryType = "arraybuffer";
    let opened = false;
    const pipe = new PushPipe({
      async send(frame) {
        while (ws.bufferedAmount > HIGH_WATER && ws.readyState === OPEN) await new Promise((r) => setTimeout(r, 10));
        if (ws.readyState !== OPEN) throw new ConnectionClosed("the WebSocket is closed");
        ws.send(frame);
      },
      close() {
        ws.close(1000, "closed by the dashboard");
      },
    });
    ws.addEventListener("open", () => {
      opened = true;
      resolve(pipe);
    });
    ws.addEventListener("message", (event) => {
      const data = event.data;
      if (data instanceof ArrayBuffer) pipe.deliver(new Uint8Array(data));
      // Text messages are not part of the bridge's contract: dropped.
    });
    ws.addEventListener("close", (event) => {
      const why = new ConnectionClosed(
        `the WebSocket closed (${event.code ?? "?"}${event.reason ? `: ${event.reason}` : ""})`,
      );
      if (!opened) reject(why);
      pipe.end(event.code === 1000 ? null : why);
    });
    // An error is always followed by close, which settles everything.
    ws.addEventListener("error", () => {});
  });
}

/** The bridge's URL for the page at `location` (same host; wss under https). */
export function bridgeUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
}
