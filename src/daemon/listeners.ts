/**
 * The daemon's two front doors: the owner-only Unix socket and the loopback
 * TCP port (whose number is written to crabtalk.tcp for clients to find).
 */
import { chmodSync, existsSync, unlinkSync, writeFileSync } from "node:fs";
import { listenTcp, listenUnix, type ConnectionHandlers, type Listener } from "../transport/socket.ts";
import type { OutboundQueueOptions } from "../transport/outbound-queue.ts";
import { logger } from "../util/log.ts";

const log = logger("listen");

export interface OpenListeners {
  unix: Listener;
  tcp: Listener | null;
  tcpPort: number;
  /** Stops accepting new connections; existing ones stay open. */
  stopAccepting(): void;
  /** Stops everything and removes the socket and port files. */
  close(): void;
}

export function openListeners(
  paths: { socket: string; tcpPortFile: string },
  tcp: { host: string; port: number } | null,
  handlers: ConnectionHandlers,
  queue: OutboundQueueOptions,
): OpenListeners {
  // We hold the lock, so a socket file here is a leftover of a daemon that died.
  if (existsSync(paths.socket)) {
    log.warn(`removing stale socket ${paths.socket}`);
    unlinkSync(paths.socket);
  }
  // umask 077 while binding: the socket is never reachable by others, not even briefly.
  const previousUmask = process.umask(0o077);
  let unix: Listener;
  try {
    unix = listenUnix(paths.socket, handlers, queue);
  } finally {
    process.umask(previousUmask);
  }
  chmodSync(paths.socket, 0o600);

  let tcpListener: Listener | null = null;
  if (tcp) {
    try {
      tcpListener = listenTcp(tcp.host, tcp.port, handlers, queue);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" && !/in use/i.test((err as Error).message)) throw err;
      tcpListener = listenTcp(tcp.host, 0, handlers, queue);
      log.warn(
        `TCP port ${tcp.port} is in use; listening on ${tcp.host}:${tcpListener.port} instead (written to ${paths.tcpPortFile})`,
      );
    }
    writeFileSync(paths.tcpPortFile, `${tcpListener.port}\n`, { mode: 0o600 });
  }
  const tcpPort = tcpListener?.port ?? 0;
  return {
    unix,
    tcp: tcpListener,
    tcpPort,
    stopAccepting() {
      unix.stop(false);
      tcpListener?.stop(false);
    },
    close() {
      unix.stop(true);
      tcpListener?.stop(true);
      for (const file of [paths.socket, paths.tcpPortFile]) {
        try {
          unlinkSync(file);
        } catch {
          // Already gone.
        }
      }
    },
  };
}
