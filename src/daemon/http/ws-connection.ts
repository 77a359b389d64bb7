/**
 * A FramedConnection over a browser's WebSocket, so the daemon's one
 * ConnectionRouter serves the dashboard exactly as it serves a socket: one
 * binary WebSocket message is one protobuf frame (no length prefix).
 *
 * Outbound memory is bounded by the same OutboundQueue (256 frames / 4 MiB,
 * the stall timeout) as a socket. Bun keeps its own buffer for a WebSocket
 * that cannot write; the sink hands Bun a message only while that buffer is
 * empty, so Bun holds at most one frame and the queue holds the rest. A tab
 * that stops reading (a laptop lid shut) is dropped after
 * client_stall_timeout_ms, like any stalled client.
 *
 * Inbound, Bun assembles each message up to maxPayloadLength (16 MiB, the
 * frame cap) before it reaches the router; only an authenticated page gets
 * a WebSocket at all, so the shared partial-frame budget of the socket
 * listeners, which guards against anonymous peers, is not needed here.
 */
import { ConnectionClosed } from "../../transport/framing.ts";
import { OutboundQueue, type OutboundQueueOptions } from "../../transport/outbound-queue.ts";
import type { FramedConnection } from "../../transport/socket.ts";

/** The part of Bun's ServerWebSocket this needs (a test can stand in a real socket's twin). */
export interface WsSink {
  /** -1: buffered under backpressure (a drain follows); 0: dropped (closed); else bytes sent. */
  sendBinary(data: Uint8Array): number;
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
}

/** Socket connection ids count up from 1; WebSocket ones from here, so logs tell them apart. */
let nextId = 1_000_000;

export class WsConnection implements FramedConnection {
  readonly id = nextId++;
  readonly queue: OutboundQueue;
  isClosed = false;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private readonly closeHandlers: (() => void)[] = [];

  constructor(
    private readonly ws: WsSink,
    readonly peer: string,
    queueOptions: OutboundQueueOptions,
    onStall: (conn: WsConnection) => void,
  ) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.queue = new OutboundQueue(
      {
        write: (frame) => {
          if (this.isClosed) return -1;
          if (ws.getBufferedAmount() > 0) return 0; // Bun still holds earlier bytes: wait for drain
          // -1: Bun buffered it under backpressure (taken; drain follows); 0: dropped, so the socket is gone.
          return ws.sendBinary(frame) === 0 ? -1 : frame.byteLength;
        },
      },
      {
        ...queueOptions,
        messages: true,
        onStall: () => {
          onStall(this);
          this.close();
        },
      },
    );
  }

  send(payload: Uint8Array, options?: { bounded?: boolean }): Promise<void> {
    if (this.isClosed) return Promise.reject(new ConnectionClosed());
    return this.queue.send(payload, options);
  }

  offer(payload: Uint8Array): boolean {
    return this.queue.offer(payload);
  }

  /** Bun's buffer emptied: write what waits. */
  drain(): void {
    this.queue.flush();
  }

  /** Runs once the connection has closed, for any reason. */
  onClose(handler: () => void): void {
    this.closeHandlers.push(handler);
  }

  close(): void {
    if (this.isClosed) return;
    // 1000 after an orderly end; the router has already sent its ErrorMsg when it closes for a reason, which may
    // still wait in the queue for this turn's coalesced write (outbound-queue.ts): out it goes first.
    this.queue.flush();
    this.ws.close(1000, "closed by the daemon");
    this.markClosed();
  }

  markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.queue.close(new ConnectionClosed());
    this.resolveClosed();
    for (const h of this.closeHandlers) h();
  }

  /** A WebSocket message arrives whole (Bun caps it at maxPayloadLength), so no partial frame is ever held here. */
  partialFrameAgeMs(): number {
    return 0;
  }
}
