/**
 * Framed connections over Bun sockets, for both sides: listeners (UDS and
 * TCP) for the daemon and connectors for clients and extensions.
 *
 * A FramedConnection owns one socket, one FrameReader and one bounded
 * OutboundQueue. Everything written goes through the queue, so a peer that
 * stops reading costs at most the queue's bound; if it stays stalled past the
 * stall timeout the connection is dropped (onStall, then close).
 */
import type { Socket, TCPSocketListener, UnixSocketListener } from "bun";
import { ConnectionClosed, encodeFrame, FrameReader, FrameTooLarge } from "./framing.ts";
import { OutboundQueue, type OutboundQueueOptions } from "./outbound-queue.ts";

export interface FramedConnection {
  readonly id: number;
  /** "unix" or "HOST:PORT" of the peer. */
  readonly peer: string;
  /** Frames and queues a payload, waiting for room (backpressure). */
  send(payload: Uint8Array): Promise<void>;
  /** Frames and queues a payload if there is room right now. */
  offer(payload: Uint8Array): boolean;
  close(): void;
  readonly isClosed: boolean;
  /** Resolves once the socket has closed, for any reason. */
  readonly closed: Promise<void>;
  readonly queue: OutboundQueue;
  /** How long the peer has left a frame half-sent (0 when no partial frame is held). */
  partialFrameAgeMs(now?: number): number;
  /** For TCP connections a listener accepted: both ends' addresses, to learn who the peer is. */
  readonly tcp?: { remoteAddress: string; remotePort: number; localPort: number };
}

export interface ConnectionHandlers {
  onOpen?(conn: FramedConnection): void;
  onFrame(conn: FramedConnection, payload: Uint8Array): void;
  /** The peer declared a frame over the cap: the stream cannot be resynchronised. */
  onOversized?(conn: FramedConnection, err: FrameTooLarge): void;
  /** The peer stalled past the timeout; the connection closes right after. */
  onStall?(conn: FramedConnection): void;
  onClose?(conn: FramedConnection): void;
}

interface ConnState {
  conn: Connection;
}

let nextConnectionId = 1;

class Connection implements FramedConnection {
  readonly id = nextConnectionId++;
  readonly reader = new FrameReader();
  tcp?: { remoteAddress: string; remotePort: number; localPort: number };
  readonly queue: OutboundQueue;
  isClosed = false;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    private readonly socket: Socket<ConnState>,
    readonly peer: string,
    private readonly handlers: ConnectionHandlers,
    queueOptions: OutboundQueueOptions,
  ) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.queue = new OutboundQueue(
      { write: (data) => (this.isClosed ? -1 : socket.write(data)) },
      {
        ...queueOptions,
        onStall: () => {
          handlers.onStall?.(this);
          this.close();
        },
      },
    );
  }

  send(payload: Uint8Array): Promise<void> {
    if (this.isClosed) return Promise.reject(new ConnectionClosed());
    return this.queue.send(encodeFrame(payload));
  }

  offer(payload: Uint8Array): boolean {
    return this.queue.offer(encodeFrame(payload));
  }

  close(): void {
    if (this.isClosed) return;
    this.socket.end();
    this.markClosed();
  }

  markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.queue.close(new ConnectionClosed());
    this.resolveClosed();
    this.handlers.onClose?.(this);
  }

  /** Set once the byte stream is unusable (oversized frame): later bytes are ignored until the close. */
  private poisoned = false;
  /** When the held partial frame was last added to; null when none is held. */
  private partialSince: number | null = null;

  partialFrameAgeMs(now = Date.now()): number {
    return this.partialSince === null ? 0 : now - this.partialSince;
  }

  receive(chunk: Uint8Array): void {
    if (this.poisoned) return;
    let frames: Uint8Array[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      if (err instanceof FrameTooLarge) {
        this.poisoned = true;
        this.handlers.onOversized?.(this, err);
        // Give the error frame a moment to go out, then close: the byte stream is unusable.
        setTimeout(() => this.close(), 50);
        return;
      }
      throw err;
    }
    this.partialSince = this.reader.pendingBytes > 0 ? Date.now() : null;
    for (const frame of frames) {
      if (this.isClosed) return;
      this.handlers.onFrame(this, frame);
    }
  }
}

function socketHandlers(
  peerOf: (s: Socket<ConnState>) => string,
  handlers: ConnectionHandlers,
  queueOptions: OutboundQueueOptions,
  acceptedTcp = false,
) {
  return {
    open(socket: Socket<ConnState>) {
      const conn = new Connection(socket, peerOf(socket), handlers, queueOptions);
      if (acceptedTcp)
        conn.tcp = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, localPort: socket.localPort };
      socket.data = { conn };
      handlers.onOpen?.(conn);
    },
    data(socket: Socket<ConnState>, chunk: Uint8Array) {
      socket.data?.conn.receive(chunk);
    },
    drain(socket: Socket<ConnState>) {
      socket.data?.conn.queue.flush();
    },
    close(socket: Socket<ConnState>) {
      socket.data?.conn.markClosed();
    },
    error(socket: Socket<ConnState>) {
      socket.data?.conn.markClosed();
    },
  };
}

export interface Listener {
  /** The bound TCP port, or 0 for a Unix socket. */
  readonly port: number;
  /** closeActive: also close open connections (default true). */
  stop(closeActive?: boolean): void;
}

export function listenUnix(
  path: string,
  handlers: ConnectionHandlers,
  queueOptions: OutboundQueueOptions = {},
): Listener {
  const server: UnixSocketListener<ConnState> = Bun.listen<ConnState>({
    unix: path,
    socket: socketHandlers(() => "unix", handlers, queueOptions),
  });
  return { port: 0, stop: (closeActive = true) => server.stop(closeActive) };
}

export function listenTcp(
  hostname: string,
  port: number,
  handlers: ConnectionHandlers,
  queueOptions: OutboundQueueOptions = {},
): Listener {
  const server: TCPSocketListener<ConnState> = Bun.listen<ConnState>({
    hostname,
    port,
    socket: socketHandlers((s) => `${s.remoteAddress}:${s.remotePort}`, handlers, queueOptions, true),
  });
  return { port: server.port, stop: (closeActive = true) => server.stop(closeActive) };
}

export type Endpoint = { unix: string } | { hostname: string; port: number };

/** Opens a framed connection to a listener. Rejects when nothing listens there. */
export async function connectFramed(
  endpoint: Endpoint,
  handlers: ConnectionHandlers,
  queueOptions: OutboundQueueOptions = {},
): Promise<FramedConnection> {
  let opened: FramedConnection | undefined;
  const base = socketHandlers(
    () => ("unix" in endpoint ? "unix" : `${endpoint.hostname}:${endpoint.port}`),
    {
      ...handlers,
      onOpen: (conn) => {
        opened = conn;
        handlers.onOpen?.(conn);
      },
    },
    queueOptions,
  );
  const options = "unix" in endpoint ? { unix: endpoint.unix } : { hostname: endpoint.hostname, port: endpoint.port };
  await Bun.connect<ConnState>({ ...options, socket: base } as Parameters<typeof Bun.connect<ConnState>>[0]);
  if (!opened) throw new ConnectionClosed("connection did not open");
  return opened;
}
