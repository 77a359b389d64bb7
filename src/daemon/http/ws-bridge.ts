/**
 * The dashboard's WebSocket bridge: the browser speaks the daemon's own
 * protocol (proto/crabtalk.proto), not a second API.
 *
 * Protocol (for the page):
 * - Open `ws(s)://<the page's host>/ws` from a page of the dashboard (the
 *   session cookie and the page's Origin are checked on the upgrade; a
 *   script may send `Authorization: Bearer <remote token>` instead). Set
 *   `binaryType = "arraybuffer"`.
 * - Each binary message is exactly ONE protobuf frame, no length prefix:
 *   browser -> daemon a ClientMessage, daemon -> browser a ServerMessage.
 *   Text messages are answered with ErrorMsg 400.
 * - Everything else is the socket protocol unchanged, through the same
 *   router and handlers: set `request_id` on every request and match it on
 *   replies (streams: StreamMsg, AttachSession{after_seq}, SubscribeEvents
 *   reply many frames with the same id; Unsubscribe{request_id} ends one);
 *   the same in-flight caps, the same bounded outbound queue (a tab that
 *   stops reading is closed after client_stall_timeout_ms). No Auth frame:
 *   the connection is authenticated by the upgrade. Closing the WebSocket
 *   ends its streams; turns go on in the daemon.
 * - The connection acts as the owner (cookie from `crabtalk dashboard`), or
 *   as the remote token pasted on the login page (its scope and agents;
 *   403 beyond them; revoking the token closes the WebSocket). Its client
 *   name is "dashboard": a turn whose approver is "client:dashboard" asks
 *   the open dashboards. After a daemon restart, reconnect with the same
 *   cookie (sessions are persisted) and re-attach with after_seq.
 *
 * Requests added for the dashboard (ClientMessage / ServerMessage 80-84):
 * - DashboardLoginMsg -> DashboardLogin{url, token, expires_ms}: a one-time
 *   login link; owner only (what `crabtalk dashboard` prints).
 * - PendingApprovalsMsg{agent?} -> PendingApprovals{approvals: [{session,
 *   agent, call_id, tool, arguments, asked_at_ms, timeout_ms}]}: prompts
 *   waiting now, across sessions, oldest first; new ones arrive as
 *   StreamEvent.approval / AgentEvent on the streams above.
 * - DaemonStatus.http_url: the dashboard's address ("" when off).
 *
 * Who may answer a prompt: every connection with the chat scope, the dashboard
 * included, whoever started the turn (a CLI turn with approver "requester"
 * is answered from the page with ApproveMsg{call_id, session, response:
 * "allow" | "deny"}). A chat token answers only prompts of turns it
 * started, an admin token or the owner any. The first answer decides; a
 * second answers 404. Timeouts and cancels are denies, and a tool the
 * permission table denies never asks.
 */
import type { WebSocketHandler } from "bun";
import { serverMessage } from "../../protocol/codec.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { MAX_FRAME_BYTES } from "../../transport/framing.ts";
import type { FramedConnection } from "../../transport/socket.ts";
import { logger } from "../../util/log.ts";
import type { Principal } from "../auth.ts";
import { ConnectionRouter, type ConnectionAccess, type HandlerTable } from "../router.ts";
import { WsConnection } from "./ws-connection.ts";

const log = logger("http");

/** Decided by the upgrade, carried on Bun's WebSocket. */
export interface BridgeData {
  principal: Principal;
  /** The browser's address, for logs and the token brake. */
  address: string;
  conn: WsConnection | null;
}

export interface BridgeDeps {
  /** The daemon's handler table (the one every socket connection uses). */
  handlers(): HandlerTable;
  /** The daemon's connections: a dashboard counts against the same limit, is swept and closed like any other. */
  routers: Map<FramedConnection, ConnectionRouter>;
  maxConnections: number;
  /** The access of a connection already authenticated as `principal`. */
  accessFor(principal: Principal, address: string): ConnectionAccess;
  stallTimeoutMs: number;
}

export function bridgeHandlers(deps: BridgeDeps): WebSocketHandler<BridgeData> {
  return {
    maxPayloadLength: MAX_FRAME_BYTES,
    // The OutboundQueue bounds what waits; Bun's own buffer holds at most the frame being written.
    closeOnBackpressureLimit: false,
    perMessageDeflate: false,
    open(ws) {
      const { address, principal } = ws.data;
      if (deps.routers.size >= deps.maxConnections) {
        log.warn(`refusing dashboard connection from ${address}: ${deps.maxConnections} clients are connected`);
        ws.sendBinary(
          serverMessage.encode({
            error: {
              code: ErrorCode.ShuttingDown,
              message: `the daemon has ${deps.maxConnections} clients connected, its limit; close some and retry`,
            },
          }),
        );
        ws.close(1013, "too many clients");
        return;
      }
      const conn = new WsConnection(ws, `ws ${address}`, { stallTimeoutMs: deps.stallTimeoutMs }, (stalled) =>
        log.warn(
          `dashboard connection ${stalled.id} (${address}) stopped reading for ${deps.stallTimeoutMs} ms with ${stalled.queue.queuedFrames} frames queued; dropping it`,
        ),
      );
      const router = new ConnectionRouter(conn, deps.handlers(), deps.accessFor(principal, address));
      deps.routers.set(conn, router);
      const who = principal.kind === "token" ? `token "${principal.name}" (${principal.scope})` : "the owner";
      log.info(`dashboard connection ${conn.id} from ${address} as ${who}`);
      conn.onClose(() => {
        router.onClose();
        deps.routers.delete(conn);
        log.info(`dashboard connection ${conn.id} closed`);
      });
      ws.data.conn = conn;
    },
    message(ws, message) {
      const conn = ws.data.conn;
      if (!conn) return;
      if (typeof message === "string") {
        conn.offer(
          serverMessage.encode({
            error: {
              code: ErrorCode.BadRequest,
              message:
                "text message: the bridge takes binary messages, each one protobuf ClientMessage (see src/daemon/http/ws-bridge.ts)",
            },
          }),
        );
        return;
      }
      deps.routers.get(conn)?.onFrame(message);
    },
    drain(ws) {
      ws.data.conn?.drain();
    },
    close(ws) {
      ws.data.conn?.markClosed();
    },
  };
}
