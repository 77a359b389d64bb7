/**
 * The protocol half of the client SDK, with no socket code: CrabtalkClient
 * (client.ts) adds connect() over the Unix socket or TCP on top of it, and the
 * dashboard (src/web/) uses it as is over a WebSocket (`ClientCore.fromPipe`),
 * so the browser bundle never pulls in node-only modules. Behaviour is the
 * SDK's: see client.ts for the contract. The message codec is passed in
 * (both Bun and the browser use the one generated ahead of time,
 * src/protocol/codec.ts: plain functions, no eval, so the page's CSP holds).
 */
import type { Init } from "../protocol/codec.ts";
import type { ClientMessage, ServerMessage } from "../protocol/gen/crabtalk.ts";
import type { FramedPipe } from "../transport/push-pipe.ts";
import { type ChannelCodec, RequestChannel, RequestTimeout } from "../transport/request-channel.ts";
import { DaemonError, Disconnected } from "./errors.ts";

export type ClientRequest = Omit<Init<ClientMessage>, "requestId" | "msg">;

export interface ClientRequestOptions {
  /** Aborting rejects with the signal's reason and unsubscribes the request at the daemon. */
  signal?: AbortSignal;
  /** request() only: give up (and unsubscribe) after this long; default none, since a turn may run for minutes. */
  timeoutMs?: number;
}

/** Requests answered by more than one reply (hub installs report progress). */
const OPEN_ENDED = ["attach", "subscribeEvents", "subscribeTasks", "subscribeDownloads", "hub"] as const;

/** Requests whose first reply is their only one. */
function expectsOneReply(request: ClientRequest): boolean {
  return !request.stream && !OPEN_ENDED.some((kind) => request[kind] !== undefined);
}

/** Replies that end a stream of the given request kind (besides ErrorMsg); any other request ends with its one reply. */
function isTerminal(request: ClientRequest, reply: ServerMessage): boolean {
  if (request.stream) return reply.stream?.event === "end";
  return expectsOneReply(request);
}

function daemonError(reply: ServerMessage): DaemonError | null {
  return reply.msg === "error" ? new DaemonError(reply.error!.code, reply.error!.message) : null;
}

/** How ClientMessage and ServerMessage become bytes and back. */
export interface MessageCodec {
  encode(message: Init<ClientMessage>): Uint8Array;
  /** Throws on bytes that are not a ServerMessage. */
  decode(frame: Uint8Array): ServerMessage;
}

function channelCodec(messages: MessageCodec): ChannelCodec<Init<ClientMessage>, ServerMessage> {
  return {
    encode: (message) => messages.encode(message),
    decode: (frame) => messages.decode(frame),
    idOf: (reply) => reply.requestId,
    withId: (request, id) => ({ ...request, requestId: id }),
    errorOf: daemonError,
    cancel: (id) => ({ unsubscribe: { requestId: id } }),
  };
}

export interface PipeClientOptions {
  /** Unread replies one stream may hold (default the channel's 4,096); a big session replay needs more. */
  maxBufferedReplies?: number;
}

/** The channel every client runs over: ids, correlation and cancellation are the transport's. */
export function clientChannel(
  pipe: FramedPipe,
  messages: MessageCodec,
  options: PipeClientOptions = {},
): RequestChannel<Init<ClientMessage>, ServerMessage> {
  return new RequestChannel(pipe, {
    codec: channelCodec(messages),
    ...(options.maxBufferedReplies === undefined ? {} : { maxBufferedReplies: options.maxBufferedReplies }),
    // Every request of this client carries an id, so an error without one is about the connection
    // itself (refused, frame too large): it fails every request waiting on it.
    onUnsolicited: (reply) => daemonError(reply) ?? undefined,
    closedError: () => new Disconnected(),
  });
}

export class ClientCore {
  protected constructor(private readonly channel: RequestChannel<Init<ClientMessage>, ServerMessage>) {}

  /** A client over an already open pipe (the dashboard's WebSocket); closing the client closes the pipe. */
  static fromPipe(pipe: FramedPipe, messages: MessageCodec, options: PipeClientOptions = {}): ClientCore {
    return new ClientCore(clientChannel(pipe, messages, options));
  }

  get isClosed(): boolean {
    return this.channel.isClosed;
  }

  /** Resolves when the connection has closed. */
  get closedPromise(): Promise<void> {
    return this.channel.closed.then(() => {});
  }

  /** Sends a request and resolves with its first reply; an ErrorMsg reply rejects with DaemonError. */
  async request(request: ClientRequest, options: ClientRequestOptions = {}): Promise<ServerMessage> {
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
  stream(request: ClientRequest, options: ClientRequestOptions = {}): AsyncIterable<ServerMessage> {
    return this.channel.stream(request, { signal: options.signal, isLast: (reply) => isTerminal(request, reply) });
  }

  close(): void {
    this.channel.close();
  }
}
