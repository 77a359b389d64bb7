/**
 * The extension's side of the socket: parses `serve --socket PATH`, listens
 * on that Unix socket, serves the one daemon connection, and cleans up.
 *
 * Lifecycle contract (what the daemon relies on):
 * - the socket is created owner-only; a stale file at PATH is removed first;
 * - exactly one peer is served, the first to connect (the daemon); later
 *   connections are closed at once;
 * - the process ends when the daemon sends ExtShutdown, when its connection
 *   closes (a daemon killed with -9 leaves no extension behind), on SIGTERM
 *   or SIGINT, or when nobody connects within the connect timeout; every
 *   way out aborts handlers' signals and removes the socket file.
 */
import { chmodSync, rmSync } from "node:fs";
import { extRequest, extResponse, type Init } from "../../protocol/codec.ts";
import type { ExtRequest, ExtResponse } from "../../protocol/gen/ext.ts";
import { type FramedConnection, listenUnix, type Listener } from "../../transport/socket.ts";
import { Dispatcher, log } from "./dispatcher.ts";
import type { ExtensionSpec } from "./types.ts";

/** The daemon connects right after spawning; a minute without it means it is gone. */
const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface ServeArgs {
  socket: string;
  connectTimeoutMs: number;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Reads `serve --socket PATH [--connect-timeout-ms N]` from argv. Arguments
 * before `serve` belong to the extension itself (its configured `args`) and
 * are ignored here.
 */
export function parseServeArgs(argv: readonly string[]): ServeArgs {
  const at = argv.indexOf("serve");
  const usage = "usage: <extension> serve --socket PATH [--connect-timeout-ms N] (the daemon runs this for you)";
  if (at < 0) throw new UsageError(`missing the \`serve\` command; ${usage}`);
  let socket: string | undefined;
  let connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
  const rest = argv.slice(at + 1);
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? rest[++i];
    if (flag === "--socket" && value) socket = value;
    else if (flag === "--connect-timeout-ms" && value && /^\d+$/.test(value)) connectTimeoutMs = Number(value);
    else throw new UsageError(`unexpected argument ${JSON.stringify(rest[i] ?? flag)} after serve; ${usage}`);
  }
  if (!socket) throw new UsageError(`missing --socket PATH; ${usage}`);
  return { socket, connectTimeoutMs };
}

/** Serves until the daemon is done with the extension; resolves with the exit code. */
export async function serveSocket(spec: ExtensionSpec, args: ServeArgs): Promise<number> {
  rmSync(args.socket, { force: true });
  let daemon: FramedConnection | null = null;
  let dispatcher: Dispatcher | null = null;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((r) => (finish = r));

  const send = (reply: Init<ExtResponse>) => {
    let frame: Uint8Array;
    try {
      frame = extResponse.encode(reply);
    } catch (err) {
      log(spec, `could not encode a reply (${(err as Error).message}); answering an error instead`);
      frame = extResponse.encode({ error: { message: (err as Error).message }, requestId: reply.requestId });
    }
    daemon?.send(frame).catch(() => {});
  };

  let connectTimer: ReturnType<typeof setTimeout> | undefined;
  let listener: Listener;
  try {
    listener = listenUnix(args.socket, {
      onOpen(conn) {
        if (daemon) {
          log(spec, "refused a second connection: an extension serves only the daemon that started it");
          conn.close();
          return;
        }
        daemon = conn;
        clearTimeout(connectTimer);
        dispatcher = new Dispatcher(spec, send, () => finish(EXIT_OK));
      },
      onFrame(conn, payload) {
        if (conn !== daemon || !dispatcher) return;
        let req: ExtRequest;
        try {
          req = extRequest.decode(payload);
        } catch (err) {
          log(spec, `dropped a frame that is not an ExtRequest (${(err as Error).message})`);
          return;
        }
        dispatcher.handle(req);
      },
      onClose(conn) {
        if (conn === daemon) finish(EXIT_OK);
      },
    });
    chmodSync(args.socket, 0o600);
  } catch (err) {
    log(spec, `cannot listen on ${args.socket}: ${(err as Error).message} (does its directory exist?)`);
    return EXIT_FAILURE;
  }

  connectTimer = setTimeout(() => {
    log(spec, `nobody connected to ${args.socket} within ${args.connectTimeoutMs} ms; exiting`);
    finish(EXIT_FAILURE);
  }, args.connectTimeoutMs);
  const onSignal = () => finish(EXIT_OK);
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  const code = await finished;
  clearTimeout(connectTimer);
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  (dispatcher as Dispatcher | null)?.close("the extension is stopping");
  (daemon as FramedConnection | null)?.close();
  listener.stop(true);
  rmSync(args.socket, { force: true });
  return code;
}
