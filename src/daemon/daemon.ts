/**
 * Process assembly: home directory, single-instance lock, logging, config,
 * listeners, per-connection routers, signals and orderly shutdown.
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting, give turns in flight up to
 * shutdown_grace_ms, flush stores, remove socket, port and lock files, exit 0.
 * SIGHUP is reserved for config reload and only logged for now.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { pathsFor, type Paths } from "../config/paths.ts";
import { parseConfig, type Config } from "../config/load.ts";
import { acquireLock, type Lock } from "./lock.ts";
import { setupDaemonLogging } from "./logging.ts";
import { openListeners, type OpenListeners } from "./listeners.ts";
import { ConnectionRouter, type HandlerTable } from "./router.ts";
import { basicHandlers } from "./handlers/basic.ts";
import { unimplementedHandlers } from "./handlers/unimplemented.ts";
import type { FramedConnection } from "../transport/socket.ts";
import { logger } from "../util/log.ts";
import { VERSION } from "../util/version.ts";

const log = logger("daemon");

export interface DaemonOptions {
  home: string;
  env: Record<string, string | undefined>;
  /** consola level; 3 = info. */
  logLevel?: number;
}

export class Daemon {
  readonly paths: Paths;
  readonly startedAt = Date.now();
  private lock: Lock | null = null;
  private listeners: OpenListeners | null = null;
  private readonly routers = new Map<FramedConnection, ConnectionRouter>();
  private handlers: HandlerTable = {};
  private stopping: Promise<void> | null = null;
  config!: Config;

  constructor(private readonly options: DaemonOptions) {
    this.paths = pathsFor(options.home);
  }

  /** Starts everything; throws AlreadyRunning or ConfigError before touching another daemon's files. */
  async start(): Promise<void> {
    const { paths } = this;
    mkdirSync(paths.home, { recursive: true, mode: 0o700 });
    chmodSync(paths.home, 0o700);
    const { lock, replacedStale } = acquireLock(paths.lock);
    this.lock = lock;
    try {
      await this.startLocked(replacedStale);
    } catch (err) {
      this.listeners?.close();
      lock.release();
      throw err;
    }
  }

  private async startLocked(replacedStale: number | null): Promise<void> {
    const { paths } = this;
    this.config = this.loadConfig();
    setupDaemonLogging({
      file: paths.logFile,
      maxBytes: this.config.daemon.logMaxBytes,
      level: this.options.logLevel ?? 3,
      secrets: () => [],
    });
    if (replacedStale !== null) log.warn(`replaced a stale lock left by pid ${replacedStale}`);
    this.handlers = {
      ...unimplementedHandlers(),
      ...basicHandlers({
        startedAt: this.startedAt,
        home: paths.home,
        socket: paths.socket,
        tcpPort: () => this.listeners?.tcpPort ?? 0,
        sessionCount: () => 0,
        runningTurns: () => 0,
        connectionCount: () => this.routers.size,
      }),
    };
    this.listeners = openListeners(paths, this.config.daemon.tcp, {
      onOpen: (conn) => this.routers.set(conn, new ConnectionRouter(conn, this.handlers)),
      onFrame: (conn, payload) => this.routers.get(conn)?.onFrame(payload),
      onOversized: (conn, err) => this.routers.get(conn)?.onOversized(err),
      onStall: (conn) => log.warn(`connection ${conn.id} (${conn.peer}) stopped reading for ${this.config.daemon.clientStallTimeoutMs} ms with ${conn.queue.queuedFrames} frames queued; dropping it`),
      onClose: (conn) => {
        this.routers.get(conn)?.onClose();
        this.routers.delete(conn);
      },
    }, { stallTimeoutMs: this.config.daemon.clientStallTimeoutMs });
    const tcp = this.config.daemon.tcp ? ` and ${this.config.daemon.tcp.host}:${this.listeners.tcpPort}` : "";
    log.info(`crabtalk ${VERSION} listening on ${paths.socket}${tcp} (pid ${process.pid})`);
  }

  private loadConfig(): Config {
    const file = this.paths.config;
    const text = existsSync(file) ? readFileSync(file, "utf8") : "";
    return parseConfig(text, { file, env: this.options.env });
  }

  get tcpPort(): number {
    return this.listeners?.tcpPort ?? 0;
  }

  /** Idempotent orderly shutdown. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    log.info(`shutting down (${reason})`);
    this.listeners?.close();
    for (const conn of this.routers.keys()) conn.close();
    this.lock?.release();
    log.info("stopped");
  }
}

/** Runs the daemon until a signal stops it; resolves with the exit code. */
export async function runDaemon(options: DaemonOptions): Promise<number> {
  const daemon = new Daemon(options);
  await daemon.start();
  return await new Promise<number>((resolve) => {
    const onStop = (signal: string) => () => {
      daemon.stop(signal).then(() => resolve(0), (err) => {
        log.error("shutdown failed:", err);
        resolve(1);
      });
    };
    process.on("SIGTERM", onStop("SIGTERM"));
    process.on("SIGINT", onStop("SIGINT"));
    process.on("SIGHUP", () => log.info("SIGHUP received: config reload is reserved for a later release; nothing changed"));
  });
}
