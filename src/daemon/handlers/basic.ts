/**
 * Ping and status: liveness, versions and what the daemon is doing.
 */
import { PROTOCOL_VERSION } from "../../protocol/codec.ts";
import type { HandlerTable } from "../router.ts";
import { VERSION } from "../../util/version.ts";

export interface StatusSource {
  startedAt: number;
  home: string;
  socket: string;
  tcpPort(): number;
  sessionCount(): number;
  runningTurns(): number;
  connectionCount(): number;
  /** Each agent's grants and what they resolve to now. */
  agents(): { agent: string; model: string; grants: { grant: string; tools: string[] }[]; cwd: string }[];
  /** Remote access counters (daemon/remote.ts). */
  remote?(): { authFailures: number; bannedAddresses: string[]; tokens: number; tls: boolean };
  /** The dashboard's address, "" when [daemon] http is off. */
  httpUrl?(): string;
}

export function basicHandlers(source: StatusSource): HandlerTable {
  return {
    ping: () => ({ pong: { version: VERSION, protocolVersion: PROTOCOL_VERSION } }),
    status: () => ({
      status: {
        version: VERSION,
        protocolVersion: PROTOCOL_VERSION,
        uptimeMs: Date.now() - source.startedAt,
        socket: source.socket,
        tcpPort: source.tcpPort(),
        sessions: source.sessionCount(),
        pid: process.pid,
        home: source.home,
        runningTurns: source.runningTurns(),
        connections: source.connectionCount(),
        agents: source.agents(),
        ...source.remote?.(),
        httpUrl: source.httpUrl?.() ?? "",
      },
    }),
  };
}
