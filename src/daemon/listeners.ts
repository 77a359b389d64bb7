/**
 * The daemon's two front doors: the owner-only Unix socket and the loopback
 * TCP port (whose number is written to crabtalk.tcp for clients to find),
 * plain or TLS (tls_cert/tls_key).
 */
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { listenTcp, listenUnix, type ConnectionHandlers, type Listener } from "../transport/socket.ts";
import type { OutboundQueueOptions } from "../transport/outbound-queue.ts";
import { logger } from "../util/log.ts";
import { StartupError } from "./startup-error.ts";
import { writeFileAtomicSync } from "../util/atomic-file.ts";

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

/**
 * We hold the lock, so a socket at this path is a leftover of a daemon that
 * died and is removed; anything else there (a directory, a file) is not ours
 * to delete and stops start-up with the fix.
 */
function removeStaleSocket(path: string): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return;
  if (!st.isSocket()) {
    const kind = st.isDirectory() ? "a directory" : st.isSymbolicLink() ? "a symlink" : "a file";
    throw new StartupError(
      `${path} is ${kind}, where the daemon's socket goes. Fix: move it out of the way (mv ${path} ${path}.old)`,
    );
  }
  log.warn(`removing stale socket ${path}`);
  unlinkSync(path);
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone (stopping a Unix listener may remove its socket itself).
  }
}

export function openListeners(
  paths: { socket: string; tcpPortFile: string },
  tcp: { host: string; port: number } | null,
  handlers: ConnectionHandlers,
  queue: OutboundQueueOptions,
  tls: { cert: string; key: string } | null = null,
): OpenListeners {
  removeStaleSocket(paths.socket);
  // umask 077 while binding: the socket is never reachable by others, not even briefly.
  const previousUmask = process.umask(0o077);
  let unix: Listener;
  try {
    unix = listenUnix(paths.socket, handlers, queue);
  } catch (err) {
    throw new StartupError(
      `cannot listen on ${paths.socket}: ${(err as Error).message}. Fix: check that its directory is yours and writable, and that the path is under 108 bytes (set CRABTALK_HOME to a shorter path)`,
    );
  } finally {
    process.umask(previousUmask);
  }
  chmodSync(paths.socket, 0o600);

  let tcpListener: Listener | null = null;
  if (tcp) {
    try {
      tcpListener = listenTcp(tcp.host, tcp.port, handlers, { ...queue, tls: tls ?? undefined });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" && !/in use/i.test((err as Error).message)) {
        unix.stop(true);
        removeQuietly(paths.socket);
        throw new StartupError(
          `cannot listen on TCP ${tcp.host}:${tcp.port}: ${(err as Error).message}. Fix: set [daemon] tcp to a loopback address this machine has (127.0.0.1 or [::1]), or tcp = false`,
        );
      }
      tcpListener = listenTcp(tcp.host, 0, handlers, { ...queue, tls: tls ?? undefined });
      log.warn(
        `TCP port ${tcp.port} is in use; listening on ${tcp.host}:${tcpListener.port} instead (written to ${paths.tcpPortFile})`,
      );
    }
    // Written aside and renamed into place: a client reading it meanwhile sees no file or the whole port, never an empty one.
    try {
      writeFileAtomicSync(paths.tcpPortFile, `${tcpListener.port}\n`);
    } catch (err) {
      tcpListener.stop(true);
      unix.stop(true);
      removeQuietly(paths.socket);
      throw new StartupError(
        `cannot write the TCP port file ${paths.tcpPortFile}: ${(err as Error).message}. Fix: move whatever is at that path out of the way`,
      );
    }
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
      for (const file of [paths.socket, paths.tcpPortFile]) removeQuietly(file);
    },
  };
}
