/**
 * What every client command shares: the global connection flags, opening a
 * client with a clear "daemon not running" message, and the exit codes
 * scripts can trust: 0 success, 1 failure, 2 usage error.
 */
import { CertificateRefused, CrabtalkClient, DaemonError, DaemonNotRunning } from "../client/client.ts";
import type { EndpointOptions } from "../client/endpoint.ts";

import { CliFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./failure.ts";
import { stdout } from "./render/pipe.ts";

export { CliFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE };

export const connectionArgs = {
  socket: {
    type: "string",
    description: "Unix socket of the daemon (default: $CRABTALK_HOME/crabtalk.sock)",
    valueHint: "PATH",
  },
  tcp: {
    type: "string",
    description: "Connect over TCP: to HOST:PORT, or with an empty value to the port in $CRABTALK_HOME/crabtalk.tcp",
    valueHint: "HOST:PORT",
  },
  token: {
    type: "string",
    description: "Token for a TCP daemon that requires one (default: $CRABTALK_TOKEN)",
    valueHint: "TOKEN",
  },
  tls: {
    type: "boolean",
    description: "Speak TLS over TCP (the certificate is pinned: --fingerprint, or known_hosts)",
  },
  fingerprint: {
    type: "string",
    description: "With --tls: the server certificate's SHA-256 (crabtalk tls init prints it)",
    valueHint: "SHA256",
  },
} as const;

export interface ConnectionFlags {
  socket?: string;
  tcp?: string | boolean;
  token?: string;
  tls?: boolean;
  fingerprint?: string;
}

/** citty parses a bare `--tcp` as "" or true; both mean "use the port file". */
export function tcpFlag(value: string | boolean | undefined): string | boolean | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true || value === "") return true;
  return value;
}

/** The client SDK's connection options from the global flags (and $CRABTALK_TOKEN). */
export function clientOptions(flags: ConnectionFlags): EndpointOptions {
  return {
    socket: flags.socket,
    tcp: tcpFlag(flags.tcp),
    token: flags.token || process.env.CRABTALK_TOKEN || undefined,
    tls: Boolean(flags.tls) || Boolean(flags.fingerprint),
    fingerprint: flags.fingerprint || undefined,
  };
}

export async function withClient<T>(flags: ConnectionFlags, fn: (client: CrabtalkClient) => Promise<T>): Promise<T> {
  let client: CrabtalkClient;
  try {
    client = await CrabtalkClient.connect(clientOptions(flags));
  } catch (err) {
    if (err instanceof DaemonNotRunning || err instanceof CertificateRefused) throw new CliFailure(err.message);
    if (err instanceof DaemonError) throw new CliFailure(`daemon answered ${err.code}: ${err.message}`);
    throw err;
  }
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof DaemonError) throw new CliFailure(`daemon answered ${err.code}: ${err.message}`);
    throw err;
  } finally {
    client.close();
  }
}

export function printJson(value: unknown): void {
  stdout().write(`${JSON.stringify(value)}\n`);
}
