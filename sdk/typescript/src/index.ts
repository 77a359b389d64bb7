/**
 * @crabtalk/client: a client for the crabtalk agent daemon, for Node >= 20
 * and Bun. See docs/build-a-client.md in the crabtalk repository.
 */
export { type AttachOptions, type ConnectOptions, CrabtalkClient, type Request, type TurnOptions } from "./client.ts";
export {
  BadRequest,
  BudgetExceeded,
  CertificateRefused,
  Conflict,
  CrabtalkError,
  DaemonError,
  DaemonNotRunning,
  Disconnected,
  Forbidden,
  NotFound,
  ProviderFailed,
  ShuttingDown,
  SlowClient,
  Unauthorized,
} from "./errors.ts";
export type {
  AgentEvent,
  ApprovalRequest,
  ClientMessage,
  DaemonStatus,
  HistoryMessage,
  Pong,
  SendResponse,
  ServerMessage,
  SessionHistory,
  SessionInfo,
  SessionList,
  StreamEnd,
  StreamEvent,
  Usage,
} from "../../../src/protocol/gen/crabtalk.ts";
export { PROTOCOL_VERSION } from "../../../src/protocol/codec.ts";
