/**
 * CrabtalkClient: one connection to the crabtalk daemon carrying any number
 * of concurrent requests and streams (multiplexed by request id), with the
 * verbs a client needs and re-attach built in.
 *
 * Resilience contract: a turn's `stream()`, an `attach()` and `events()`
 * outlive the connection. When it drops (daemon restart, network) or the
 * daemon drops this client as too slow (408), the client reconnects (for up
 * to `reconnect.timeoutMs`) and re-attaches from the last seq it yielded:
 * the daemon replays what was missed from the session's trace, and events
 * at or below that seq are skipped, so the caller sees no gap and no
 * duplicate. `events()` re-subscribes, but a subscription has no replay:
 * events during the gap are lost there; follow a session with attach() to
 * miss nothing. Everything else (send, approve...) fails with the typed
 * error and leaves retrying to the caller.
 *
 * Wire code is the project's own (src/protocol codec and generated types,
 * src/transport framing and RequestChannel), bundled into this package.
 */
import { readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { clientMessage, type Init, serverMessage } from "../../../src/protocol/codec.ts";
import type {
  AgentEvent,
  ClientMessage,
  DaemonStatus,
  Pong,
  SendResponse,
  ServerMessage,
  SessionHistory,
  SessionList,
  StreamEvent,
} from "../../../src/protocol/gen/crabtalk.ts";
import { tlsPin } from "../../../src/client/known-hosts.ts";
import { ConnectionClosed } from "../../../src/transport/framing.ts";
import { type ChannelCodec, ChannelOverflow, RequestChannel } from "../../../src/transport/request-channel.ts";
import { CertificateRefused, DaemonNotRunning, Disconnected, daemonError, ShuttingDown, SlowClient } from "./errors.ts";
import { connected, socketPipe } from "./node-pipe.ts";

/** A request as sent: one member of ClientMessage's oneof (the request id is the client's). */
export type Request = Omit<Init<ClientMessage>, "requestId" | "msg">;

export interface ConnectOptions {
  /** Unix socket path; default $CRABTALK_HOME/crabtalk.sock. */
  socket?: string;
  /** "HOST:PORT", or true for loopback on the port in $CRABTALK_HOME/crabtalk.tcp. */
  tcp?: string | boolean;
  /** The daemon's home; default $CRABTALK_HOME, else ~/.crabtalk. */
  home?: string;
  /** Sent as the Auth first frame on every (re)connect; a remote daemon's TCP listener requires one. */
  token?: string;
  /** TCP only: TLS, with the certificate pinned (self-signed daemons: `crabtalk tls init`). */
  tls?: boolean;
  /** With tls: accept only the certificate with this SHA-256 ("AB:CD:..." or hex); without it, known_hosts decides (trust on first use). */
  fingerprint?: string;
  /** The known-hosts file for tls without a fingerprint; default $CRABTALK_HOME/known_hosts. */
  knownHosts?: string;
  /** Opens the carrier yourself (a tunnel, your own TLS): resolve with a connected duplex stream. Overrides socket and tcp. */
  dial?: () => Promise<Duplex>;
  /** How long resilient streams keep trying to reconnect (default 30 s), and the first pause between tries (100 ms, doubling to 2 s). */
  reconnect?: { timeoutMs?: number; delayMs?: number };
  /** Called after each reconnect of a resilient stream, before it re-attaches. */
  onReconnect?(info: { session: number; afterSeq: number; cause: Error }): void;
}

export interface TurnOptions {
  session?: number;
  /** Who is asking ("cli", "telegram:42"); recorded with the session. */
  sender?: string;
  /** Who may answer approvals: "requester" (default for stream), "none" (default for send), "session:<id>", "client:<name>". */
  approver?: string;
  /** This connection's name, for "client:<name>" approvers. */
  client?: string;
  signal?: AbortSignal;
}

export interface AttachOptions {
  /** Replay events after this seq first; default: live events only. */
  afterSeq?: number;
  /** End after the next StreamEnd (the running turn's, or the next turn's). */
  untilEnd?: boolean;
  client?: string;
  signal?: AbortSignal;
}

type Channel = RequestChannel<Init<ClientMessage>, ServerMessage>;

const CODEC: ChannelCodec<Init<ClientMessage>, ServerMessage> = {
  encode: (message) => clientMessage.encode(message),
  decode: (frame) => serverMessage.decode(frame),
  idOf: (reply) => reply.requestId,
  withId: (request, id) => ({ ...request, requestId: id }),
  errorOf: (reply) => (reply.error ? daemonError(reply.error.code, reply.error.message) : null),
  cancel: (id) => ({ unsubscribe: { requestId: id } }),
};

/**
 * Errors after which a resilient stream reconnects and re-attaches: the
 * connection went (or is going) away, 408, or this side's own buffer of
 * unread replies overflowed (the stream was cancelled; re-attaching resumes
 * it from the last seq the caller read).
 */
function resumable(err: unknown): err is Error {
  return (
    err instanceof Disconnected ||
    err instanceof ChannelOverflow ||
    err instanceof ConnectionClosed ||
    err instanceof SlowClient ||
    err instanceof ShuttingDown
  );
}

export class CrabtalkClient {
  private channel: Channel | null = null;
  private opening: Promise<Channel> | null = null;
  private closed = false;

  private constructor(private readonly options: ConnectOptions) {}

  /** Connects (Unix socket by default, or TCP, or your `dial`). Throws DaemonNotRunning with how to start it. */
  static async connect(options: ConnectOptions = {}): Promise<CrabtalkClient> {
    const client = new CrabtalkClient(options);
    await client.live();
    return client;
  }

  /** Where this client connects, for messages. */
  get endpoint(): string {
    if (this.options.dial) return "a custom dial";
    const home = this.home;
    if (typeof this.options.tcp === "string") return this.options.tcp;
    if (this.options.tcp) return `127.0.0.1:${readFileSync(join(home, "crabtalk.tcp"), "utf8").trim()}`;
    return this.options.socket ?? join(home, "crabtalk.sock");
  }

  private get home(): string {
    return this.options.home ?? process.env.CRABTALK_HOME ?? join(homedir(), ".crabtalk");
  }

  // ------------------------------------------------------------ the verbs

  /** Runs one turn and resolves with its answer (no approvals: the default approver is "none"). */
  async send(agent: string, content: string, options: TurnOptions = {}): Promise<SendResponse> {
    const { signal, client: _client, ...rest } = options;
    return (await this.request({ send: { agent, content, ...rest } }, { signal })).response!;
  }

  /**
   * Runs one turn and yields its events, ending with `end` (StreamEnd).
   * Survives a dropped connection or a 408 once the session is known (from
   * the first event): it re-attaches from the last seq.
   */
  async *stream(agent: string, content: string, options: TurnOptions = {}): AsyncGenerator<StreamEvent> {
    const { signal, ...turn } = options;
    let session = 0;
    let lastSeq = 0;
    try {
      for await (const reply of this.replies({ stream: { agent, content, ...turn } }, signal)) {
        const event = reply.stream;
        if (!event) continue;
        session = event.session;
        lastSeq = event.seq;
        yield event;
        if (event.end) return;
      }
      return;
    } catch (err) {
      if (!resumable(err) || session === 0) throw err;
      await this.recover(session, lastSeq, err);
    }
    yield* this.attach(session, { afterSeq: lastSeq, untilEnd: true, client: turn.client, signal });
  }

  /**
   * Follows one session: its events after `afterSeq` (replayed from its
   * trace), then live ones, across reconnects, with no gap and no duplicate.
   * Runs until the caller stops (or, with untilEnd, the next StreamEnd).
   */
  async *attach(session: number, options: AttachOptions = {}): AsyncGenerator<StreamEvent> {
    let lastSeq = options.afterSeq;
    for (;;) {
      try {
        const attach = { session, afterSeq: lastSeq, client: options.client };
        for await (const reply of this.replies({ attach }, options.signal)) {
          if (reply.attached) {
            lastSeq ??= reply.attached.lastSeq; // live only: resume after what was current then
            continue;
          }
          const event = reply.stream;
          if (!event || (lastSeq !== undefined && event.seq <= lastSeq)) continue;
          lastSeq = event.seq;
          yield event;
          if (options.untilEnd && event.end) return;
        }
        throw new Disconnected("the daemon ended the attach stream");
      } catch (err) {
        if (!resumable(err)) throw err;
        await this.recover(session, lastSeq ?? 0, err);
      }
    }
  }

  /** Every agent's events (or one agent's), live; re-subscribes after a reconnect (see the header). */
  async *events(options: { agent?: string; client?: string; signal?: AbortSignal } = {}): AsyncGenerator<AgentEvent> {
    const { signal, ...subscribeEvents } = options;
    for (;;) {
      try {
        for await (const reply of this.replies({ subscribeEvents }, signal)) if (reply.event) yield reply.event;
        throw new Disconnected("the daemon ended the event subscription");
      } catch (err) {
        if (!resumable(err)) throw err;
        await this.recover(0, 0, err);
      }
    }
  }

  /** Answers an ApprovalRequest: ApproveMsg{call_id, session}. Resolves with the daemon's acknowledgement. */
  async approve(session: number, callId: string, decision: "allow" | "deny", reason?: string): Promise<string> {
    return (await this.request({ approve: { session, callId, response: decision, reason } })).ack!.message;
  }

  /** Stops the turn in flight on `session`; the session is kept. */
  async cancel(session: number): Promise<string> {
    return (await this.request({ cancel: { session } })).ack!.message;
  }

  /** Sessions, newest activity first. */
  async sessions(options: { agent?: string; offset?: number; limit?: number } = {}): Promise<SessionList> {
    return (await this.request({ sessions: options })).sessions!;
  }

  async history(session: number): Promise<SessionHistory> {
    return (await this.request({ getHistory: { session } })).history!;
  }

  async status(): Promise<DaemonStatus> {
    return (await this.request({ status: {} })).status!;
  }

  async ping(): Promise<Pong> {
    return (await this.request({ ping: {} })).pong!;
  }

  // ------------------------------------------------------------ raw access

  /** Sends a request answered by one reply; ErrorMsg rejects with the typed DaemonError. */
  async request(request: Request, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ServerMessage> {
    return (await this.live()).request(request, options);
  }

  /** Sends a request and yields its replies: until StreamEnd for `stream`, until you stop for subscriptions and attach. */
  async *replies(request: Request, signal?: AbortSignal): AsyncGenerator<ServerMessage> {
    const channel = await this.live();
    yield* channel.stream(request, { signal, isLast: (reply) => request.stream !== undefined && !!reply.stream?.end });
  }

  close(): void {
    this.closed = true;
    this.channel?.close();
  }

  // ------------------------------------------------------------ connection

  /** The open channel, connecting first when there is none (or it closed). */
  private live(): Promise<Channel> {
    if (this.closed) return Promise.reject(new Disconnected("the client was closed"));
    if (this.channel && !this.channel.isClosed) return Promise.resolve(this.channel);
    this.opening ??= this.open().finally(() => (this.opening = null));
    return this.opening;
  }

  private async open(): Promise<Channel> {
    let carrier: Duplex;
    try {
      carrier = this.options.dial ? await this.options.dial() : await this.dialEndpoint();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ECONNREFUSED" || code === "ECONNRESET")
        throw new DaemonNotRunning(this.endpoint, code);
      throw err;
    }
    const channel: Channel = new RequestChannel(socketPipe(carrier), {
      codec: CODEC,
      onUnsolicited: (reply) => (reply.error ? daemonError(reply.error.code, reply.error.message) : undefined),
      closedError: () => new Disconnected(),
    });
    if (this.options.token) {
      try {
        await channel.request({ auth: { token: this.options.token } });
      } catch (err) {
        channel.close();
        throw err;
      }
    }
    this.channel = channel;
    return channel;
  }

  /** A socket to the configured endpoint: Unix, TCP, or TCP with a pinned TLS certificate. */
  private async dialEndpoint(): Promise<Duplex> {
    const where = this.endpoint;
    if (this.options.tcp === undefined || this.options.tcp === false) {
      const socket = createConnection({ path: where });
      await connected(socket);
      return socket;
    }
    const host = where.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    const port = Number(where.split(":").pop());
    if (!this.options.tls && !this.options.fingerprint) {
      const socket = createConnection({ host, port });
      await connected(socket);
      return socket;
    }
    // Self-signed certificates: trust is the pin, checked before anything (the token above all) is sent.
    const socket: TLSSocket = tlsConnect({ host, port, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.once("secureConnect", () => {
        socket.off("error", reject);
        resolve();
      });
    });
    const pin = tlsPin(where, {
      fingerprint: this.options.fingerprint,
      knownHostsFile: this.options.knownHosts ?? join(this.home, "known_hosts"),
    });
    const refused = pin.verify(socket.getPeerCertificate().fingerprint256);
    if (refused) {
      socket.destroy();
      throw new CertificateRefused(refused);
    }
    return socket;
  }

  /** Reconnects for a resilient stream, retrying while the daemon is away, up to reconnect.timeoutMs. */
  private async recover(session: number, afterSeq: number, cause: Error): Promise<void> {
    const timeoutMs = this.options.reconnect?.timeoutMs ?? 30_000;
    let delay = this.options.reconnect?.delayMs ?? 100;
    const deadline = Date.now() + timeoutMs;
    if (this.channel && !this.channel.isClosed && (cause instanceof SlowClient || cause instanceof ChannelOverflow)) {
      // These end the stream, not the connection: the same channel can re-attach.
    } else {
      this.channel?.close();
      // A daemon shutting down may still accept a connection: give it time to go before trying.
      if (cause instanceof ShuttingDown) await new Promise((r) => setTimeout(r, delay));
      for (;;) {
        try {
          await this.live();
          break;
        } catch (err) {
          if (!(err instanceof DaemonNotRunning) || Date.now() + delay > deadline) throw err;
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 2000);
        }
      }
    }
    this.options.onReconnect?.({ session, afterSeq, cause });
  }
}
