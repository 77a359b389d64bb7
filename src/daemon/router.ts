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
 *
 * Access: SCOPE_OF below is the one table of which token scope each request
 * kind needs (read < chat < admin); a connection that must authenticate
 * (auth.ts decides) answers 401 and closes on anything but Auth first, and a
 * token whose scope is too small gets 403 naming the scope needed.
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
import type { Scope } from "../config/tokens.ts";
import { OWNER, UNAUTHORIZED, type Principal } from "./auth.ts";
import { guardAgents, type ReplyFilter, type SessionAgent } from "./agent-filter.ts";
import { guardOwnTurns, TurnOwners } from "./own-turns.ts";

const log = logger("router");

export type Reply = Init<ServerMessage>;
export type RequestKind = NonNullable<ClientMessage["msg"]>;

export interface RequestContext {
  conn: FramedConnection;
  requestId: RequestId | undefined;
  /** Aborted when the client disconnects or unsubscribes this stream. */
  signal: AbortSignal;
  /** Who this connection acts as (the owner on the Unix socket). */
  principal: Principal;
  /** The client name of requests that name none ("dashboard" for the web bridge), for "client:<name>" approvers. */
  clientName: string | undefined;
}

/**
 * The scope each request kind needs. `read` sees, `chat` also talks (turns,
 * cancel and approve on its own turns (own-turns.ts), compact), `admin` may change the daemon (config, reload,
 * services, MCP, kill, delete, hub). Typed over every kind, so a new request
 * kind does not compile until it is placed here.
 */
export const SCOPE_OF: Record<RequestKind, Scope> = {
  auth: "read",
  ping: "read",
  status: "read",
  sessions: "read",
  getHistory: "read",
  attach: "read",
  subscribeEvents: "read",
  usage: "read",
  searchSessions: "read",
  unsubscribe: "read",
  tasks: "read",
  subscribeTasks: "read",
  downloads: "read",
  subscribeDownloads: "read",
  send: "chat",
  stream: "chat",
  cancel: "chat",
  approve: "chat",
  compact: "chat",
  kill: "admin",
  deleteSession: "admin",
  killTask: "admin",
  hub: "admin",
  getConfig: "admin",
  setConfig: "admin",
  reload: "admin",
  serviceQuery: "admin",
  getServiceSchema: "admin",
  getAllSchemas: "admin",
  getServices: "admin",
  setServiceConfig: "admin",
  restartService: "admin",
  mcpServers: "admin",
  mcpCall: "admin",
  // Cron and the event bus: listing reads; a run or a published event starts turns; jobs and subscriptions change the daemon.
  cronList: "read",
  busStatus: "read",
  cronRun: "chat",
  publishEvent: "chat",
  cronSet: "admin",
  cronDelete: "admin",
  subscribeBus: "admin",
  unsubscribeBus: "admin",
  // The dashboard: listing prompts reads; a login link is the owner's alone (handlers/dashboard.ts refuses tokens).
  pendingApprovals: "read",
  dashboardLogin: "admin",
};

const RANK: Record<Scope, number> = { read: 0, chat: 1, admin: 2 };

/** How one connection is let in: the owner, or a token it must present first. */
export interface ConnectionAccess {
  /** True: every frame before a successful Auth answers 401 and closes. */
  requiresToken: boolean;
  authenticate(token: string): Promise<Principal>;
  /** False once the token is revoked or expired. */
  stillValid(principal: Principal): boolean;
  sessionAgent: SessionAgent;
  /** Which sessions each token started turns in (chat tokens cancel and approve only those). */
  turnOwners: TurnOwners;
  /** Already known before the first frame (the web bridge authenticates on upgrade): no Auth frame is expected. */
  principal?: Principal;
  /** See RequestContext.clientName. */
  clientName?: string;
}

const OWNER_ACCESS: ConnectionAccess = {
  requiresToken: false,
  authenticate: () => Promise.resolve(OWNER),
  stillValid: () => true,
  sessionAgent: () => Promise.resolve(undefined),
  turnOwners: new TurnOwners(),
};

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

  private principal: Principal | null;
  private authenticating = false;

  constructor(
    private readonly conn: FramedConnection,
    private readonly handlers: HandlerTable,
    private readonly access: ConnectionAccess = OWNER_ACCESS,
  ) {
    this.principal = access.principal ?? (access.requiresToken ? null : OWNER);
  }

  /** False until a connection that must authenticate has done so. */
  get authenticated(): boolean {
    return this.principal !== null;
  }

  /** The token this connection authenticated with, if any. */
  get tokenPrincipal(): Principal | null {
    return this.principal?.kind === "token" ? this.principal : null;
  }

  /** Answers 401 and closes (a revoked or expired token, or a frame before Auth). */
  refuse(message: string): void {
    this.reply(undefined, { error: { code: UNAUTHORIZED, message } });
    setTimeout(() => this.conn.close(), 50);
    this.principal = null;
  }

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
    if (kind === "auth") {
      this.onAuth(request.auth?.token ?? "", requestId);
      return;
    }
    if (this.principal === null || this.authenticating) {
      log.info(`connection ${this.conn.id} (${this.conn.peer}): "${kind}" before authenticating; closing`);
      this.refuse(
        `this connection needs a token: send Auth{token} as the first frame (crabtalk --token T, or CRABTALK_TOKEN=T) and wait for its Ack`,
      );
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

  private onAuth(token: string, requestId: RequestId | undefined): void {
    if (this.authenticating || this.principal?.kind === "token") {
      this.refuse("Auth is sent once, as the first frame");
      return;
    }
    this.authenticating = true;
    this.access.authenticate(token).then(
      (principal) => {
        this.authenticating = false;
        this.principal = principal;
        const name = principal.kind === "token" ? `token "${principal.name}" (${principal.scope})` : "the owner";
        this.conn.offer(serverMessage.encode({ ack: { message: `authenticated as ${name}` }, requestId }));
      },
      (err) => {
        this.authenticating = false;
        const wire = wireErrorOf(err);
        this.conn.offer(serverMessage.encode({ error: wire, requestId }));
        this.principal = null;
        setTimeout(() => this.conn.close(), 50);
      },
    );
  }

  /** Throws 401 (token gone) or 403 (scope too small, another's turn, another agent) before a request runs; returns its reply filter. */
  private async admit(kind: RequestKind, body: unknown): Promise<ReplyFilter | undefined> {
    const principal = this.principal;
    if (principal === null) throw new WireError(UNAUTHORIZED, "not authenticated");
    if (principal.kind === "owner") return undefined;
    if (!this.access.stillValid(principal)) {
      this.refuse(`token "${principal.name}" was revoked or has expired; this connection is closed`);
      throw new ConnectionClosed();
    }
    const needed = SCOPE_OF[kind] ?? "admin";
    if (RANK[principal.scope] < RANK[needed])
      throw new WireError(
        ErrorCode.Forbidden,
        `"${kind}" needs the ${needed} scope; token "${principal.name}" has ${principal.scope}`,
      );
    const fields = (body ?? {}) as Record<string, unknown>;
    const own =
      principal.scope === "admin" ? undefined : guardOwnTurns(kind, fields, principal.name, this.access.turnOwners);
    const agents = principal.agents
      ? await guardAgents(kind, fields, principal.agents, this.access.sessionAgent)
      : undefined;
    if (!own || !agents) return own ?? agents;
    return (reply) => {
      const kept = agents(reply);
      return kept ? own(kept) : null;
    };
  }

  private async run(kind: RequestKind, request: ClientMessage, requestId: RequestId | undefined): Promise<void> {
    const controller = new AbortController();
    if (requestId !== undefined) this.inFlight.set(requestId, controller);
    // Forwarded by hand, not AbortSignal.any: Bun keeps every composite of a live source that has a listener, so a long-lived connection leaked one per stream.
    const onConnectionClosed = () => controller.abort(this.connectionAbort.signal.reason);
    if (this.connectionAbort.signal.aborted) onConnectionClosed();
    else this.connectionAbort.signal.addEventListener("abort", onConnectionClosed, { once: true });
    const signal = controller.signal;
    const ctx: RequestContext = {
      conn: this.conn,
      requestId,
      signal,
      principal: this.principal ?? OWNER,
      clientName: this.access.clientName,
    };
    try {
      const body = (request as Record<string, unknown>)[kind] as NonNullable<ClientMessage[RequestKind]>;
      const filter = await this.admit(kind, body);
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
      const result = await handler(body, ctx);
      if (!isStream(result)) {
        // Encoded now, so only the bytes wait for room, not the decoded reply (a history is several times its encoding).
        const out = filter ? filter(result) : result;
        if (out) await this.send(requestId, out);
        return;
      }
      for await (const reply of result) {
        if (signal.aborted) break;
        const out = filter ? filter(reply) : reply;
        if (out) await this.send(requestId, out);
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
