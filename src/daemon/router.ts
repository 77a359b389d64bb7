/**
 * Serves one client connection: decodes frames, routes each request to its
 * handler, and writes replies echoing the request id.
 *
 * Ordering: requests that carry a request_id run concurrently (multiplexed);
 * requests without one run strictly one after another, each to completion
 * (a stream until its last frame), which is the original protocol's
 * behaviour. Control requests (cancel, approve, unsubscribe) never wait
 * behind a stream, or a one-at-a-time client could not stop its own turn.
 *
 * Errors: handlers return values and throw; this file is the one place where
 * a throw becomes an ErrorMsg frame. Bad input never closes the connection
 * unless the byte stream itself is unusable (oversized frame).
 */
import { clientMessage, serverMessage, type Init } from "../protocol/codec.ts";
import type { ClientMessage, ServerMessage } from "../protocol/gen/crabtalk.ts";
import { ErrorCode, WireError } from "../protocol/errors.ts";
import type { RequestId } from "../protocol/request-id.ts";
import {
  ConnectionClosed,
  FrameTooLarge,
  MAX_FRAME_BYTES,
  type PartialFramesOverBudget,
} from "../transport/framing.ts";
import { wireErrorOf } from "./errors.ts";
import type { FramedConnection } from "../transport/socket.ts";
import { logger } from "../util/log.ts";

const log = logger("router");

export type Reply = Init<ServerMessage>;
export type RequestKind = NonNullable<ClientMessage["msg"]>;

export interface RequestContext {
  conn: FramedConnection;
  requestId: RequestId | undefined;
  /** Aborted when the client disconnects or unsubscribes this stream. */
  signal: AbortSignal;
}

/** A handler answers one reply, or a stream of replies. */
export type HandlerResult = Reply | AsyncIterable<Reply>;
export type Handler<K extends RequestKind> = (
  request: NonNullable<ClientMessage[K]>,
  ctx: RequestContext,
) => HandlerResult | Promise<HandlerResult>;
export type HandlerTable = { [K in RequestKind]?: Handler<K> };

const CONTROL: ReadonlySet<RequestKind> = new Set<RequestKind>(["cancel", "approve", "unsubscribe"]);

/**
 * Caps on what one peer can have in flight: 256 multiplexed requests is far
 * beyond any real client (a UI with a few streams) and bounds the memory a
 * hostile peer can pin; 1,024 queued one-at-a-time requests likewise.
 */
const MAX_CONCURRENT = 256;
const MAX_SERIAL_BACKLOG = 1024;

function isStream(result: HandlerResult): result is AsyncIterable<Reply> {
  return typeof (result as AsyncIterable<Reply>)[Symbol.asyncIterator] === "function";
}

export class ConnectionRouter {
  private serial: Promise<void> = Promise.resolve();
  private serialBacklog = 0;
  private readonly inFlight = new Map<RequestId, AbortController>();
  /** Control requests without a request id, running now: not in inFlight, but they pin a reply each. */
  private untracked = 0;
  private readonly connectionAbort = new AbortController();

  constructor(
    private readonly conn: FramedConnection,
    private readonly handlers: HandlerTable,
  ) {}

  onClose(): void {
    this.connectionAbort.abort(new ConnectionClosed());
    for (const c of this.inFlight.values()) c.abort(new ConnectionClosed());
  }

  onOversized(err: FrameTooLarge | PartialFramesOverBudget): void {
    log.warn(`connection ${this.conn.id} (${this.conn.peer}): ${err.message}; closing`);
    this.reply(
      undefined,
      err instanceof FrameTooLarge
        ? {
            error: {
              code: ErrorCode.TooLarge,
              message: `${err.message}; this connection is closed because the stream cannot be resynchronised. Send frames of at most 16 MiB.`,
            },
          }
        : {
            error: {
              code: ErrorCode.ShuttingDown,
              message: `${err.message}, so this connection is closed rather than buffer its frame too; reconnect and retry (other clients are sending large frames slowly)`,
            },
          },
    );
  }

  onFrame(payload: Uint8Array): void {
    if (payload.byteLength === 0) {
      log.info(`connection ${this.conn.id}: empty frame`);
      this.reply(undefined, {
        error: {
          code: ErrorCode.BadRequest,
          message: "empty message: a frame must hold a ClientMessage with one request set (see proto/crabtalk.proto)",
        },
      });
      return;
    }
    let request: ClientMessage;
    try {
      request = clientMessage.decode(payload);
    } catch (err) {
      log.info(
        `connection ${this.conn.id}: undecodable frame of ${payload.byteLength} bytes: ${(err as Error).message}`,
      );
      this.reply(undefined, {
        error: {
          code: ErrorCode.BadRequest,
          message: `malformed frame: ${payload.byteLength} bytes that do not decode as a crabtalk.protocol.ClientMessage (${(err as Error).message})`,
        },
      });
      return;
    }
    const requestId = request.requestId || undefined;
    const kind = request.msg;
    if (!kind) {
      log.info(`connection ${this.conn.id}: unknown request`);
      this.reply(requestId, {
        error: {
          code: ErrorCode.BadRequest,
          message:
            "unknown request: the message sets no request this daemon knows; the client may be newer than the daemon (see proto/crabtalk.proto)",
        },
      });
      return;
    }
    if (requestId !== undefined || CONTROL.has(kind)) {
      if (requestId !== undefined && this.inFlight.has(requestId)) {
        this.reply(requestId, {
          error: {
            code: ErrorCode.Conflict,
            message: `request id ${requestId} is already in flight on this connection; use a new id per request`,
          },
        });
        return;
      }
      if (this.inFlight.size + this.untracked >= MAX_CONCURRENT) {
        this.reply(requestId, {
          error: {
            code: ErrorCode.BudgetExceeded,
            message: `too many requests in flight on this connection (limit ${MAX_CONCURRENT}); wait for some to finish`,
          },
        });
        return;
      }
      if (requestId !== undefined) {
        void this.run(kind, request, requestId);
        return;
      }
      this.untracked++;
      void this.run(kind, request, undefined).finally(() => this.untracked--);
      return;
    }
    if (this.serialBacklog >= MAX_SERIAL_BACKLOG) {
      log.warn(`connection ${this.conn.id}: ${MAX_SERIAL_BACKLOG} requests queued without request ids; closing`);
      this.reply(undefined, {
        error: {
          code: ErrorCode.BudgetExceeded,
          message: `too many queued requests (limit ${MAX_SERIAL_BACKLOG}); set request_id to run requests concurrently`,
        },
      });
      this.conn.close();
      return;
    }
    this.serialBacklog++;
    this.serial = this.serial.then(() => this.run(kind, request, undefined)).finally(() => this.serialBacklog--);
  }

  private async run(kind: RequestKind, request: ClientMessage, requestId: RequestId | undefined): Promise<void> {
    const controller = new AbortController();
    if (requestId !== undefined) this.inFlight.set(requestId, controller);
    // Forwarded by hand, not AbortSignal.any: Bun keeps every composite of a live source that has a listener, so a long-lived connection leaked one per stream.
    const onConnectionClosed = () => controller.abort(this.connectionAbort.signal.reason);
    if (this.connectionAbort.signal.aborted) onConnectionClosed();
    else this.connectionAbort.signal.addEventListener("abort", onConnectionClosed, { once: true });
    const signal = controller.signal;
    const ctx: RequestContext = { conn: this.conn, requestId, signal };
    try {
      if (kind === "unsubscribe") {
        const target = request.unsubscribe?.requestId ?? 0;
        const stream = this.inFlight.get(target);
        stream?.abort(new Error("unsubscribed"));
        await this.send(requestId, {
          ack: { message: stream ? `stream ${target} ended` : `no stream ${target} on this connection` },
        });
        return;
      }
      const handler = this.handlers[kind] as Handler<RequestKind> | undefined;
      if (!handler)
        throw new WireError(ErrorCode.NotImplemented, `request "${kind}" is not implemented by this daemon yet`);
      const body = (request as Record<string, unknown>)[kind] as NonNullable<ClientMessage[RequestKind]>;
      const result = await handler(body, ctx);
      if (!isStream(result)) {
        // Encoded now, so only the bytes wait for room, not the decoded reply (a history is several times its encoding).
        await this.send(requestId, result);
        return;
      }
      for await (const reply of result) {
        if (signal.aborted) break;
        await this.send(requestId, reply);
      }
    } catch (err) {
      if (err instanceof ConnectionClosed || this.conn.isClosed) return;
      const wire = wireErrorOf(err);
      if (wire.code === ErrorCode.Internal) log.error(`connection ${this.conn.id}: ${kind} failed:`, err);
      // Unbounded: at most one small error per in-flight request (MAX_CONCURRENT) can wait.
      await this.send(requestId, { error: wire }, false).catch(() => {});
    } finally {
      this.connectionAbort.signal.removeEventListener("abort", onConnectionClosed);
      if (requestId !== undefined && this.inFlight.get(requestId) === controller) this.inFlight.delete(requestId);
    }
  }

  /**
   * Encodes and queues one reply. `bounded` (every reply but errors): when the
   * peer has not read earlier replies, this one waits only while the waiting
   * bytes stay within the connection's bound, else the request fails with 429
   * (UnreadBacklog), so a peer that asks without reading cannot pin memory.
   */
  private send(requestId: RequestId | undefined, reply: Reply, bounded = true): Promise<void> {
    const message = requestId === undefined ? reply : { ...reply, requestId };
    const payload = serverMessage.encode(message);
    if (payload.byteLength > MAX_FRAME_BYTES) {
      return Promise.reject(
        new WireError(
          ErrorCode.TooLarge,
          `the reply (${payload.byteLength} bytes) exceeds the ${MAX_FRAME_BYTES}-byte frame limit; ask for less (a page of sessions, or read the session file with \`crabtalk replay --json\`)`,
        ),
      );
    }
    return this.conn.send(payload, { bounded });
  }

  /** Fire-and-forget reply for protocol errors; never waits on a stalled peer. */
  private reply(requestId: RequestId | undefined, reply: Reply): void {
    // offer, not send: a peer that writes garbage without reading would otherwise pin one waiting frame per bad frame.
    const message = requestId === undefined ? reply : { ...reply, requestId };
    this.conn.offer(serverMessage.encode(message));
  }
}
