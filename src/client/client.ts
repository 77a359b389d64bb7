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
 * (subscribeEvents, attach) sends Unsubscribe for it.
 */
import { clientMessage, serverMessage, type Init } from "../protocol/codec.ts";
import type { ClientMessage, ServerMessage } from "../protocol/gen/crabtalk.ts";
import type { RequestId } from "../protocol/request-id.ts";
import { connectFramed, type FramedConnection } from "../transport/socket.ts";
import { EventStream } from "../util/event-stream.ts";
import { DaemonError, DaemonNotRunning, Disconnected } from "./errors.ts";
import { describeEndpoint, resolveEndpoint, type EndpointOptions } from "./endpoint.ts";

type Request = Omit<Init<ClientMessage>, "requestId" | "msg">;

interface Pending {
  events: EventStream<ServerMessage, Error | null>;
}

/** Requests answered by more than one reply (hub installs report progress). */
const OPEN_ENDED = ["attach", "subscribeEvents", "subscribeTasks", "subscribeDownloads", "hub"] as const;

/** Replies that end a stream of the given request kind (besides ErrorMsg); any other request ends with its one reply. */
function isTerminal(request: Request, reply: ServerMessage): boolean {
  if (request.stream) return reply.stream?.event === "end";
  return !OPEN_ENDED.some((kind) => request[kind] !== undefined);
}

export class CrabtalkClient {
  private nextId = 1;
  private readonly pending = new Map<RequestId, Pending>();
  private closed = false;

  private constructor(private readonly conn: FramedConnection) {}

  /** Connects over the Unix socket (default) or TCP. Throws DaemonNotRunning with how to start it. */
  static async connect(options: EndpointOptions = {}): Promise<CrabtalkClient> {
    const endpoint = resolveEndpoint(options);
    let client: CrabtalkClient | undefined;
    try {
      const conn = await connectFramed(endpoint, {
        onFrame: (_c, payload) => client?.onFrame(payload),
        onClose: () => client?.onClose(),
      });
      client = new CrabtalkClient(conn);
      return client;
    } catch (err) {
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
    return this.closed;
  }

  /** Resolves when the connection has closed. */
  get closedPromise(): Promise<void> {
    return this.conn.closed;
  }

  /** Sends a request and resolves with its first reply; an ErrorMsg reply rejects with DaemonError. */
  async request(request: Request): Promise<ServerMessage> {
    for await (const reply of this.open(request)) return reply;
    throw new Disconnected();
  }

  /** Sends a request and yields its replies until the stream ends. */
  stream(request: Request): AsyncIterable<ServerMessage> {
    return this.open(request);
  }

  private async *open(request: Request): AsyncGenerator<ServerMessage> {
    if (this.closed) throw this.connectionError ?? new Disconnected();
    const id = this.nextId++;
    const events = new EventStream<ServerMessage, Error | null>();
    this.pending.set(id, { events });
    let finished = false;
    try {
      await this.conn.send(clientMessage.encode({ ...request, requestId: id } as Init<ClientMessage>));
      for await (const reply of events) {
        if (reply.msg === "error") {
          finished = true;
          throw new DaemonError(reply.error!.code, reply.error!.message);
        }
        if (isTerminal(request, reply)) finished = true;
        yield reply;
        if (finished) return;
      }
      const failure = await events.result();
      finished = true;
      if (failure) throw failure;
    } finally {
      this.pending.delete(id);
      if (!finished && !this.closed) {
        // The caller stopped early: tell the daemon to stop this stream.
        this.conn
          .send(clientMessage.encode({ unsubscribe: { requestId: id }, requestId: this.nextId++ }))
          .catch(() => {});
      }
    }
  }

  private onFrame(payload: Uint8Array): void {
    let reply: ServerMessage;
    try {
      reply = serverMessage.decode(payload);
    } catch {
      return; // A frame we cannot read is not worth killing every stream for.
    }
    const id = reply.requestId ?? 0;
    // Every request of this client carries an id, so an error without one is about the connection
    // itself (refused, frame too large): it fails every request waiting on it.
    if (id === 0 && reply.msg === "error") {
      this.connectionError = new DaemonError(reply.error!.code, reply.error!.message);
      for (const p of this.pending.values()) p.events.end(this.connectionError);
      this.pending.clear();
      return;
    }
    this.pending.get(id)?.events.push(reply);
  }

  private connectionError: DaemonError | null = null;

  private onClose(): void {
    this.closed = true;
    for (const p of this.pending.values()) p.events.end(this.connectionError ?? new Disconnected());
    this.pending.clear();
  }

  close(): void {
    this.conn.close();
    this.onClose();
  }
}

export { DaemonError, DaemonNotRunning, Disconnected };
