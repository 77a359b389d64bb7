/**
 * Framed connections over Bun sockets, for both sides: listeners (UDS and
 * TCP) for the daemon and connectors for clients and extensions.
 *
 * A FramedConnection owns one socket, one FrameReader and one bounded
 * OutboundQueue. Everything written goes through the queue, so a peer that
 * stops reading costs at most the queue's bound; if it stays stalled past the
 * stall timeout the connection is dropped (onStall, then close).
 *
 * Inbound, what a peer can pin is bounded too: one partial frame per
 * connection (up to the 16 MiB frame cap), all accepted connections together
 * at most a PartialFrameBudget, and partialFrameAgeMs() counts from a
 * partial frame's first byte, so the owner can drop a peer that drips a
 * frame instead of sending it.
 */
import type { Socket, TCPSocketListener, UnixSocketListener } from "bun";
import { ConnectionClosed, encodeFrame, FrameReader, FrameTooLarge, PartialFramesOverBudget } from "./framing.ts";
import { OutboundQueue, type OutboundQueueOptions } from "./outbound-queue.ts";

/**
 * 64 MiB: four maximum-size frames at once. A frame may be 16 MiB and the
 * daemon accepts 1,024 clients, so without a shared cap a few dozen peers
 * that each send all but the last byte of a frame pin gigabytes. Real
 * requests are kilobytes and complete within a read or two, so only peers
 * that hold frames open (broken or hostile) come near it, and the stall rule
 * frees what they hold within client_stall_timeout_ms.
 */
export const PARTIAL_FRAME_BUDGET_BYTES = 64 * 1024 * 1024;

/** The bytes that a set of connections together may hold in partly received frames. */
export class PartialFrameBudget {
  private held = 0;

  constructor(readonly limitBytes = PARTIAL_FRAME_BUDGET_BYTES) {}

  get heldBytes(): number {
    return this.held;
  }

  /** Applies a change in held bytes; refuses (false, nothing changed) a growth past the limit. */
  adjust(delta: number): boolean {
    if (delta > 0 && this.held + delta > this.limitBytes) return false;
    this.held += delta;
    return true;
  }
}

/** Shared by every listener given no budget of its own: one daemon process, one budget. */
const processBudget = new PartialFrameBudget();

/** Listener options: the outbound queue's, plus the budget for partial inbound frames. */
export type ListenOptions = OutboundQueueOptions & {
  partialFrames?: PartialFrameBudget;
  /** TCP only: speak TLS with this certificate and key (PEM file paths). */
  tls?: { cert: string; key: string };
};

export interface FramedConnection {
  readonly id: number;
  /** "unix" or "HOST:PORT" of the peer. */
  readonly peer: string;
  /** Frames and queues a payload, waiting for room (backpressure); `bounded`: see OutboundQueue.send. */
  send(payload: Uint8Array, options?: { bounded?: boolean }): Promise<void>;
  /** Frames and queues a payload if there is room right now. */
  offer(payload: Uint8Array): boolean;
  close(): void;
  readonly isClosed: boolean;
  /** Resolves once the socket has closed, for any reason. */
  readonly closed: Promise<void>;
  readonly queue: OutboundQueue;
  /**
   * How long ago the first byte of the frame the peer is still sending
   * arrived (0 when no partial frame is held). Later bytes of the same frame
   * do not reset it: a frame must complete within the owner's limit, so a
   * peer cannot hold a buffer open by dripping a byte at a time.
   */
  partialFrameAgeMs(now?: number): number;
  /** For TCP connections a listener accepted: both ends' addresses, to learn who the peer is. */
  readonly tcp?: { remoteAddress: string; remotePort: number; localPort: number };
}

export interface ConnectionHandlers {
  onOpen?(conn: FramedConnection): void;
  onFrame(conn: FramedConnection, payload: Uint8Array): void;
  /**
   * The peer's byte stream is abandoned and the connection closes right
   * after: it declared a frame over the cap (the stream cannot be
   * resynchronised), or its partial frame would take all connections past
   * their PartialFrameBudget.
   */
  onOversized?(conn: FramedConnection, err: FrameTooLarge | PartialFramesOverBudget): void;
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
    /** Null for connections this process opened (their peer is a daemon it chose to trust). */
    private readonly budget: PartialFrameBudget | null,
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

  send(payload: Uint8Array, options?: { bounded?: boolean }): Promise<void> {
    if (this.isClosed) return Promise.reject(new ConnectionClosed());
    return this.queue.send(encodeFrame(payload), options);
  }

  offer(payload: Uint8Array): boolean {
    return this.queue.offer(encodeFrame(payload));
  }

  close(): void {
    if (this.isClosed) return;
    // Frames queued in this turn of the loop wait for a coalesced write (outbound-queue.ts): out they go first.
    this.queue.flush();
    this.socket.end();
    this.markClosed();
  }

  markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.releasePartial();
    this.queue.close(new ConnectionClosed());
    this.resolveClosed();
    this.handlers.onClose?.(this);
  }

  /** Set once the byte stream is unusable (oversized frame): later bytes are ignored until the close. */
  private poisoned = false;
  /** When the first byte of the held partial frame arrived; null when none is held. */
  private partialSince: number | null = null;
  /** Bytes of this connection's partial frame counted against the budget. */
  private counted = 0;

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
        this.abandon(err);
        return;
      }
      throw err;
    }
    const held = this.reader.pendingBytes;
    if (this.budget && !this.budget.adjust(held - this.counted)) {
      this.abandon(new PartialFramesOverBudget(this.budget.heldBytes - this.counted, this.budget.limitBytes));
      return;
    }
    this.counted = held;
    // A frame completed in this read means any bytes still held start a new one.
    if (held === 0) this.partialSince = null;
    else if (frames.length > 0 || this.partialSince === null) this.partialSince = Date.now();
    for (const frame of frames) {
      if (this.isClosed) return;
      this.handlers.onFrame(this, frame);
    }
  }

  /** Stops reading for good: tells the owner why, frees the partial frame, closes once the error had a moment to go out. */
  private abandon(err: FrameTooLarge | PartialFramesOverBudget): void {
    this.poisoned = true;
    this.releasePartial();
    this.handlers.onOversized?.(this, err);
    setTimeout(() => this.close(), 50);
  }

  private releasePartial(): void {
    this.budget?.adjust(-this.counted);
    this.counted = 0;
    this.reader.clear();
    this.partialSince = null;
  }
}

function socketHandlers(
  peerOf: (s: Socket<ConnState>) => string,
  handlers: ConnectionHandlers,
  options: ListenOptions,
  budget: PartialFrameBudget | null,
  acceptedTcp = false,
) {
  const { partialFrames: _, tls: _tls, ...queueOptions } = options;
  return {
    open(socket: Socket<ConnState>) {
      const conn = new Connection(socket, peerOf(socket), handlers, queueOptions, budget);
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

export function listenUnix(path: string, handlers: ConnectionHandlers, options: ListenOptions = {}): Listener {
  const server: UnixSocketListener<ConnState> = Bun.listen<ConnState>({
    unix: path,
    socket: socketHandlers(() => "unix", handlers, options, options.partialFrames ?? processBudget),
  });
  return { port: 0, stop: (closeActive = true) => server.stop(closeActive) };
}

export function listenTcp(
  hostname: string,
  port: number,
  handlers: ConnectionHandlers,
  options: ListenOptions = {},
): Listener {
  const server: TCPSocketListener<ConnState> = Bun.listen<ConnState>({
    hostname,
    port,
    ...(options.tls ? { tls: { cert: Bun.file(options.tls.cert), key: Bun.file(options.tls.key) } } : {}),
    socket: socketHandlers(
      (s) => `${s.remoteAddress}:${s.remotePort}`,
      handlers,
      options,
      options.partialFrames ?? processBudget,
      true,
    ),
  });
  return { port: server.port, stop: (closeActive = true) => server.stop(closeActive) };
}

/**
 * A TLS client endpoint: the server's certificate is not checked against CAs
 * (crabtalk certificates are self-signed); `verify` gets its SHA-256
 * fingerprint ("AB:CD:...") once the handshake is done and returns why it
 * is refused, or null to accept. Nothing is sent before it accepts.
 */
export interface TlsPin {
  verify(fingerprint256: string): string | null;
}

export type Endpoint = { unix: string } | { hostname: string; port: number; tls?: TlsPin };

/** The server's certificate did not match the pinned or known fingerprint. */
export class CertificateRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CertificateRefused";
  }
}

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
    null,
  );
  const options = "unix" in endpoint ? { unix: endpoint.unix } : { hostname: endpoint.hostname, port: endpoint.port };
  const pin = "unix" in endpoint ? undefined : endpoint.tls;
  if (!pin) {
    await Bun.connect<ConnState>({ ...options, socket: base } as Parameters<typeof Bun.connect<ConnState>>[0]);
    if (!opened) throw new ConnectionClosed("connection did not open");
    return opened;
  }
  // TLS: the connection counts as open only once the handshake is done and the fingerprint accepted.
  const { promise: shaken, resolve, reject } = Promise.withResolvers<void>();
  const socket = await Bun.connect<ConnState>({
    ...options,
    tls: { rejectUnauthorized: false },
    socket: {
      ...base,
      handshake(s: Socket<ConnState>, success: boolean, error: Error | null) {
        if (!success) {
          reject(new ConnectionClosed(`TLS handshake failed: ${error?.message ?? "unknown error"}`));
          s.end();
          return;
        }
        const fingerprint = s.getPeerX509Certificate()?.fingerprint256 ?? "";
        const refused = pin.verify(fingerprint);
        if (refused) {
          reject(new CertificateRefused(refused));
          s.end();
          return;
        }
        resolve();
      },
      close(s: Socket<ConnState>) {
        reject(new ConnectionClosed("the server closed the connection during the TLS handshake"));
        base.close(s);
      },
    },
  } as Parameters<typeof Bun.connect<ConnState>>[0]);
  try {
    await shaken;
  } catch (err) {
    socket.end();
    throw err;
  }
  if (!opened) throw new ConnectionClosed("connection did not open");
  return opened;
}
