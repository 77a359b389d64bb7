/**
 * The crabtalk client SDK: one connection to the daemon carrying any number
 * of concurrent requests and streams, multiplexed by request id.
 *
 *   const client = await CrabtalkClient.connect();          // $CRABTALK_HOME socket
 *   const pong = await client.request({ ping: {} });
 *   for await (const reply of client.stream({ stream: { agent: "crab", content: "hi" } })) {
 *     if (reply.stream?.chunk) process.stdout.write(reply.stream.chunk.content);
 *   }
 *   client.close();
 *
 * `request()` resolves with the first reply; `stream()` yields replies until
 * the stream's terminal frame (StreamEnd for a turn) and throws DaemonError
 * when the daemon answers ErrorMsg. Breaking out of a long-lived stream
 * (subscribeEvents, attach) sends Unsubscribe for it. Both take an optional
 * AbortSignal, and request() a timeoutMs; either cancels at the daemon too.
 *
 * Correlation, cancellation, timeouts and the in-flight cap are the
 * transport's RequestChannel; this file only says what crabtalk.proto
 * messages mean. Request ids are the channel's (numbers from 1); replies
 * carry `requestId` as a RequestId (number, or bigint above 2^53 - 1).
 */
import { clientMessage, serverMessage, type Init } from "../protocol/codec.ts";
import type { ClientMessage, ServerMessage } from "../protocol/gen/crabtalk.ts";
import { connectPipe } from "../transport/pipe.ts";
import { CertificateRefused } from "../transport/socket.ts";
import { ConnectionClosed } from "../transport/framing.ts";
import { type ChannelCodec, RequestChannel, RequestTimeout } from "../transport/request-channel.ts";
import { DaemonError, DaemonNotRunning, Disconnected } from "./errors.ts";
import { describeEndpoint, resolveEndpoint, type EndpointOptions } from "./endpoint.ts";

type Request = Omit<Init<ClientMessage>, "requestId" | "msg">;

export interface ClientRequestOptions {
  /** Aborting rejects with the signal's reason and unsubscribes the request at the daemon. */
  signal?: AbortSignal;
  /** request() only: give up (and unsubscribe) after this long; default none, since a turn may run for minutes. */
  timeoutMs?: number;
}

/** Requests answered by more than one reply (hub installs report progress). */
const OPEN_ENDED = ["attach", "subscribeEvents", "subscribeTasks", "subscribeDownloads", "hub"] as const;

/** Requests whose first reply is their only one. */
function expectsOneReply(request: Request): boolean {
  return !request.stream && !OPEN_ENDED.some((kind) => request[kind] !== undefined);
}

/** Replies that end a stream of the given request kind (besides ErrorMsg); any other request ends with its one reply. */
function isTerminal(request: Request, reply: ServerMessage): boolean {
  if (request.stream) return reply.stream?.event === "end";
  return expectsOneReply(request);
}

function daemonError(reply: ServerMessage): DaemonError | null {
  return reply.msg === "error" ? new DaemonError(reply.error!.code, reply.error!.message) : null;
}

const CODEC: ChannelCodec<Init<ClientMessage>, ServerMessage> = {
  encode: (message) => clientMessage.encode(message),
  decode: (frame) => serverMessage.decode(frame),
  idOf: (reply) => reply.requestId,
  withId: (request, id) => ({ ...request, requestId: id }),
  errorOf: daemonError,
  cancel: (id) => ({ unsubscribe: { requestId: id } }),
};

export class CrabtalkClient {
  private constructor(private readonly channel: RequestChannel<Init<ClientMessage>, ServerMessage>) {}

  /**
   * Connects over the Unix socket (default) or TCP (optionally TLS). With a
   * token, authenticates before resolving (a wrong one rejects with
   * DaemonError 401). Throws DaemonNotRunning with how to start it, and
   * CertificateRefused when a TLS certificate does not match its pin.
   */
  static async connect(options: EndpointOptions = {}): Promise<CrabtalkClient> {
    const client = await CrabtalkClient.open(options);
    if (options.token && options.tcp) {
      try {
        await client.request({ auth: { token: options.token } });
      } catch (err) {
        client.close();
        throw err;
      }
    }
    return client;
  }

  private static async open(options: EndpointOptions): Promise<CrabtalkClient> {
    const endpoint = resolveEndpoint(options);
    try {
      const pipe = await connectPipe(endpoint);
      return new CrabtalkClient(
        new RequestChannel(pipe, {
          codec: CODEC,
          // Every request of this client carries an id, so an error without one is about the connection
          // itself (refused, frame too large): it fails every request waiting on it.
          onUnsolicited: (reply) => daemonError(reply) ?? undefined,
          closedError: () => new Disconnected(),
        }),
      );
    } catch (err) {
      if (err instanceof CertificateRefused || err instanceof ConnectionClosed) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (
        code === "ENOENT" ||
        code === "ECONNREFUSED" ||
        code === "FailedToOpenSocket" ||
        /connect|ENOENT|refused/i.test(String(err))
      ) {
        throw new DaemonNotRunning(describeEndpoint(endpoint), code);
      }
      throw err;
    }
  }

  get isClosed(): boolean {
    return this.channel.isClosed;
  }

  /** Resolves when the connection has closed. */
  get closedPromise(): Promise<void> {
    return this.channel.closed.then(() => {});
  }

  /** Sends a request and resolves with its first reply; an ErrorMsg reply rejects with DaemonError. */
  async request(request: Request, options: ClientRequestOptions = {}): Promise<ServerMessage> {
    if (expectsOneReply(request)) return this.channel.request(request, options);
    // Several replies will come: take the first, then unsubscribe the rest (as leaving a stream does).
    // The timeout is forwarded by hand, not AbortSignal.any: Bun keeps composites of a live source alive.
    const controller = new AbortController();
    const forward = () => controller.abort(options.signal!.reason);
    if (options.signal?.aborted) forward();
    options.signal?.addEventListener("abort", forward, { once: true });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => controller.abort(new RequestTimeout(0, options.timeoutMs!)), options.timeoutMs);
    try {
      for await (const reply of this.stream(request, { signal: controller.signal })) return reply;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", forward);
    }
    throw new Disconnected();
  }

  /** Sends a request and yields its replies until the stream ends. */
  stream(request: Request, options: ClientRequestOptions = {}): AsyncIterable<ServerMessage> {
    return this.channel.stream(request, { signal: options.signal, isLast: (reply) => isTerminal(request, reply) });
  }

  close(): void {
    this.channel.close();
  }
}

export { CertificateRefused, DaemonError, DaemonNotRunning, Disconnected };
