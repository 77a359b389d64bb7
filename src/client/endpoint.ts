/**
 * Where a client connects: an explicit socket path, an explicit TCP
 * address, the TCP port the daemon wrote to crabtalk.tcp, or (the default)
 * the Unix socket in $CRABTALK_HOME. TCP may speak TLS, with the server's
 * certificate pinned (known-hosts.ts).
 *
 * node:fs is fetched only where a file is read (process.getBuiltinModule):
 * loading it costs a short command ~1 ms, and the default Unix-socket client
 * reads no file (CPU profile of `crabtalk send`, issue 20).
 */
import { pathsFor, resolveHome } from "../config/paths.ts";
import type { Endpoint } from "../transport/socket.ts";
import { DaemonNotRunning } from "./errors.ts";
import { tlsPin } from "./known-hosts.ts";
import { join } from "node:path";

export interface EndpointOptions {
  /** Unix socket path; overrides the home's socket. */
  socket?: string;
  /** true = TCP on the port in crabtalk.tcp; "HOST:PORT" = that address. */
  tcp?: boolean | string;
  /** $CRABTALK_HOME; default from the environment. */
  home?: string;
  /** TCP only: sent as the Auth first frame (remote daemons require one). */
  token?: string;
  /** TCP only: speak TLS. */
  tls?: boolean;
  /** With tls: accept only this certificate SHA-256 ("AB:CD:..." or hex). Without it, known_hosts decides. */
  fingerprint?: string;
  /** Trust-on-first-use file; default $CRABTALK_HOME/known_hosts. */
  knownHosts?: string;
}

export function describeEndpoint(e: Endpoint): string {
  return "unix" in e ? e.unix : `${e.hostname}:${e.port}`;
}

export function resolveEndpoint(options: EndpointOptions = {}): Endpoint {
  const home = options.home ?? resolveHome();
  const paths = pathsFor(home);
  if (typeof options.tcp === "string" && options.tcp.length > 0) {
    const m = /^(.*):(\d+)$/.exec(options.tcp);
    if (!m) throw new Error(`--tcp expects HOST:PORT, got "${options.tcp}"`);
    const hostname = m[1]!.replace(/^\[|\]$/g, "") || "127.0.0.1";
    const port = Number(m[2]);
    return { hostname, port, ...withTls(options, home, `${hostname}:${port}`) };
  }
  if (options.tcp) {
    let text: string;
    try {
      text = process.getBuiltinModule("node:fs").readFileSync(paths.tcpPortFile, "utf8");
    } catch {
      throw new DaemonNotRunning(paths.tcpPortFile, "no TCP port file");
    }
    const port = Number(text.trim());
    if (!Number.isInteger(port) || port <= 0)
      throw new Error(`${paths.tcpPortFile} holds "${text.trim()}", not a port number`);
    return { hostname: "127.0.0.1", port, ...withTls(options, home, `127.0.0.1:${port}`) };
  }
  return { unix: options.socket ?? paths.socket };
}

function withTls(options: EndpointOptions, home: string, address: string): { tls?: ReturnType<typeof tlsPin> } {
  if (!options.tls && !options.fingerprint) return {};
  return {
    tls: tlsPin(address, {
      fingerprint: options.fingerprint,
      knownHostsFile: options.knownHosts ?? join(home, "known_hosts"),
    }),
  };
}
