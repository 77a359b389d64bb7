/**
 * Process assembly: home directory, single-instance lock, logging, config,
 * listeners, per-connection routers, signals and orderly shutdown.
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting, give turns in flight up to
 * shutdown_grace_ms, flush stores, remove socket, port and lock files, exit 0.
 * SIGHUP reloads crabtalk.toml (see reload.ts); a bad file changes nothing.
 */
import { pathsFor, type Paths } from "../config/paths.ts";
import { parseConfig, readConfigText, type Config } from "../config/load.ts";
import { acquireLock, type Lock } from "./lock.ts";
import { prepareHome } from "./home-dirs.ts";
import { setupDaemonLogging } from "./logging.ts";
import { openListeners, type OpenListeners } from "./listeners.ts";
import { ConnectionRouter, type HandlerTable } from "./router.ts";
import { basicHandlers } from "./handlers/basic.ts";
import { waitingHandlers } from "./handlers/waiting.ts";
import type { FramedConnection } from "../transport/socket.ts";
import { logger } from "../util/log.ts";
import { VERSION } from "../util/version.ts";
import { serverMessage } from "../protocol/codec.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { loopbackPeerUid } from "../transport/peer-uid.ts";
import { defaultConfig } from "../config/default-config.ts";
import { BUILTIN_TOOL_NAMES } from "../tools/names.ts";
import { configSecrets } from "./config-secrets.ts";
import type { ConfigControl } from "./config-control.ts";
import { makeNonDumpable } from "../tools/nondumpable.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import type { Services } from "../ext/supervisor.ts";
import type { McpHub } from "../mcp/hub.ts";
import type { CronService } from "./cron.ts";
import { RemoteAccess } from "./remote.ts";
import type { BusService } from "./bus.ts";
import type { DashboardServer } from "./http/server.ts";

/** The modules loaded after the socket accepts (parts.ts), as one namespace. */
type Parts = typeof import("./parts.ts");

const log = logger("daemon");

/**
 * 1,024 clients: far beyond real use (a few terminals, a gateway, a UI) and
 * below the default open-file limit, so a runaway client script meets a clear
 * refusal instead of the daemon meeting EMFILE.
 */
const MAX_CONNECTIONS = 1024;

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
  private partialSweeper: ReturnType<typeof setInterval> | null = null;
  config!: Config;
  runtime: SessionRuntime | null = null;
  services: Services | null = null;
  mcp: McpHub | null = null;
  private control: ConfigControl | null = null;
  cron: CronService | null = null;
  bus: BusService | null = null;
  private remote: RemoteAccess | null = null;
  private parts: Parts | null = null;
  private http: DashboardServer | null = null;

  constructor(private readonly options: DaemonOptions) {
    this.paths = pathsFor(options.home);
  }

  /** Starts everything; throws StartupError, AlreadyRunning or ConfigError before touching another daemon's files. */
  async start(): Promise<void> {
    const { paths } = this;
    const warnings = prepareHome(paths);
    const { lock, replacedStale } = acquireLock(paths.lock);
    this.lock = lock;
    try {
      await this.startLocked(replacedStale, warnings);
    } catch (err) {
      this.http?.close();
      this.listeners?.close();
      lock.release();
      throw err;
    }
  }

  private async startLocked(replacedStale: number | null, homeWarnings: string[]): Promise<void> {
    const { paths } = this;
    const { config, wroteDefault } = this.loadConfig();
    this.config = config;
    setupDaemonLogging({
      file: paths.logFile,
      maxBytes: this.config.daemon.logMaxBytes,
      level: this.options.logLevel ?? 3,
      // Read per line: a reload that adds a key redacts it from then on.
      secrets: () => configSecrets(this.config),
    });
    if (replacedStale !== null) log.warn(`replaced a stale lock left by pid ${replacedStale}`);
    for (const warning of homeWarnings) log.warn(warning);
    if (wroteDefault)
      log.info(
        `no config found: wrote a default ${paths.config} using ${wroteDefault}; edit it to change providers and agents`,
      );
    // The socket accepts before the runtime is assembled: requests wait for it (waitingHandlers).
    const assembled = Promise.withResolvers<HandlerTable>();
    assembled.promise.catch(() => {}); // a failed assembly fails start(); early requests get the error too
    const remote = new RemoteAccess(config.daemon, paths.home, async (id) => {
      try {
        await assembled.promise;
        return (await this.runtime?.loadStored(id))?.meta.agent;
      } catch {
        return undefined;
      }
    });
    this.remote = remote;
    const basic = basicHandlers({
      startedAt: this.startedAt,
      home: paths.home,
      socket: paths.socket,
      tcpPort: () => this.listeners?.tcpPort ?? 0,
      sessionCount: () => this.runtime?.liveCount ?? 0,
      runningTurns: () => this.runtime?.runningTurns() ?? 0,
      agents: () => this.runtime?.grantReport() ?? [],
      connectionCount: () => this.routers.size,
      remote: () => ({ ...remote.status(), tls: this.config.daemon.tls !== null }),
      httpUrl: () => this.http?.url ?? "",
    });
    // Every request, ping included, waits for the parts below: the first answer still means the daemon is
    // entirely up (config watcher, cron, bus, the "listening" log line), as clients and scripts rely on.
    this.handlers = waitingHandlers(assembled.promise);
    // Before the socket answers: a client that sees the daemon up finds the dashboard (and crabtalk.http) there too.
    // Loaded only when configured: most daemons serve no dashboard and should not parse its server.
    if (config.daemon.http) {
      const { DashboardServer } = await import("./http/server.ts");
      this.http = await DashboardServer.start({
        settings: config.daemon,
        home: paths.home,
        gate: remote.gate,
        handlers: () => this.handlers,
        routers: this.routers,
        maxConnections: MAX_CONNECTIONS,
        accessFor: (principal, address) => remote.accessAs(principal, address, "dashboard"),
      });
    }
    this.listeners = openListeners(
      paths,
      this.config.daemon.tcp,
      {
        onOpen: (conn) => {
          const tcpAccess = conn.tcp ? remote.onTcpOpen(conn) : { requiresToken: false, banned: false };
          if (tcpAccess.banned) {
            log.warn(`refusing connection from ${conn.peer}: the address is banned after failed authentications`);
            conn.offer(
              serverMessage.encode({
                error: {
                  code: ErrorCode.BudgetExceeded,
                  message: "too many failed authentications from this address; it is banned for a while",
                },
              }),
            );
            setTimeout(() => conn.close(), 50);
            return;
          }
          // A connection that must present a token is judged by the token, not by its owner's uid.
          const refusal = tcpAccess.requiresToken ? null : this.refusal(conn);
          if (refusal) {
            log.warn(`refusing connection from ${conn.peer}: ${refusal.log}`);
            conn.offer(serverMessage.encode({ error: { code: refusal.code, message: refusal.message } }));
            setTimeout(() => conn.close(), 50);
            return;
          }
          if (this.routers.size >= MAX_CONNECTIONS) {
            log.warn(`refusing connection from ${conn.peer}: ${MAX_CONNECTIONS} clients are connected`);
            conn.offer(
              serverMessage.encode({
                error: {
                  code: ErrorCode.ShuttingDown,
                  message: `the daemon has ${MAX_CONNECTIONS} clients connected, its limit; close some and retry`,
                },
              }),
            );
            setTimeout(() => conn.close(), 50);
            return;
          }
          const router = new ConnectionRouter(conn, this.handlers, remote.accessFor(conn, tcpAccess.requiresToken));
          this.routers.set(conn, router);
          if (tcpAccess.requiresToken) remote.enforceDeadline(conn, router);
        },
        onFrame: (conn, payload) => this.routers.get(conn)?.onFrame(payload),
        onOversized: (conn, err) => this.routers.get(conn)?.onOversized(err),
        onStall: (conn) =>
          log.warn(
            `connection ${conn.id} (${conn.peer}) stopped reading for ${this.config.daemon.clientStallTimeoutMs} ms with ${conn.queue.queuedFrames} frames queued; dropping it`,
          ),
        onClose: (conn) => {
          this.routers.get(conn)?.onClose();
          this.routers.delete(conn);
        },
      },
      { stallTimeoutMs: this.config.daemon.clientStallTimeoutMs },
      this.config.daemon.tls,
    );
    remote.startSweeping(() => this.routers.values());
    // After the socket accepts (dlopen of libc costs ~0.3 ms) and before any tool can run: tools exist only once
    // the parts below are assembled, and every request waits for that. See tools/nondumpable.ts.
    const hidden = makeNonDumpable();
    if (!hidden.ok) log.warn(`tools may be able to read this daemon's environment and memory: ${hidden.reason}`);
    // A peer that leaves a frame half-sent as long as a stalled reader is tolerated is stuck or hostile: free its partial frame (up to 16 MiB).
    const partialLimit = this.config.daemon.clientStallTimeoutMs;
    this.partialSweeper = setInterval(
      () => {
        const now = Date.now();
        for (const conn of this.routers.keys()) {
          if (conn.partialFrameAgeMs(now) > partialLimit) {
            log.warn(
              `connection ${conn.id} (${conn.peer}) left a frame half-sent for over ${partialLimit} ms; closing it`,
            );
            conn.close();
          }
        }
      },
      Math.min(10_000, Math.max(100, partialLimit / 4)),
    );
    this.partialSweeper.unref?.();
    try {
      await this.assemble(await import("./parts.ts"), config, basic);
      assembled.resolve(this.handlers);
    } catch (err) {
      assembled.reject(err);
      throw err;
    }
    const tcp = this.config.daemon.tcp
      ? ` and ${this.config.daemon.tcp.host}:${this.listeners.tcpPort}${this.config.daemon.tls ? " (TLS)" : ""}${remote.gate.requiresToken() ? " (tokens required)" : ""}`
      : "";
    const http = this.http ? ` and dashboard ${this.http.url}` : "";
    log.info(`crabtalk ${VERSION} listening on ${paths.socket}${tcp}${http} (pid ${process.pid})`);
    this.services?.start(); // after the listeners: clients are served before any service is ready
  }

  /**
   * Loads and builds everything behind the handlers (runtime, services, MCP,
   * cron, bus) once the socket accepts, then puts the real handlers in the
   * table every connection reads.
   */
  private async assemble(parts: Parts, config: Config, basic: HandlerTable): Promise<void> {
    const { paths } = this;
    this.parts = parts;
    const runtime = await parts.assembleRuntime(config, paths);
    this.runtime = runtime;
    // Each service's state changes go on the event bus as `service:<name>:<state>` (the bus starts below).
    const services = parts.createServices(
      config,
      paths,
      runtime,
      () => configSecrets(this.config),
      (name, state) => void this.bus?.bus.publish(`service:${name}:${state}`, state),
    );
    this.services = services;
    parts.installFeatures(runtime, config, paths);
    const tasks = parts.installDelegation(runtime);
    this.mcp = await parts.startMcp(config, paths, runtime, this.options.env, () => this.applySettings());
    // With MCP servers, the agents' grants follow the hub's tool counts; without, the settings would be the ones
    // the runtime was just made with (settingsFrom of the same config), made again on the way to the first answer.
    if (this.mcp) this.applySettings();
    for (const { agent, grant } of runtime.emptyGrants())
      log.warn(`agent ${agent}: grant "${grant}" matches no tool yet (a server that starts later may bring it)`);
    this.control = new parts.ConfigControl({
      file: paths.config,
      readText: () => readConfigText(paths.config, () => defaultConfig(this.options.env)).text,
      parse: (text) => this.parse(text),
      current: () => this.config,
      setCurrent: (next) => {
        this.config = next;
      },
      applySettings: () => this.applySettings(),
      runtime,
    });
    this.control.addParticipant({ name: "services", apply: (next) => services.reconcile(next.services) });
    this.control.addParticipant(
      parts.mcpReloadParticipant({
        hub: () => this.mcp,
        setHub: (hub) => {
          this.mcp = hub;
        },
        paths,
        runtime,
        env: this.options.env,
        apply: () => this.applySettings(),
      }),
    );
    this.cron = parts.startCron(paths, runtime);
    this.control.addParticipant(this.cron.participant());
    this.bus = parts.startBus(paths, runtime, this.cron);
    this.control.addParticipant(this.bus.participant());
    Object.assign(this.handlers, {
      ...parts.unimplementedHandlers(),
      ...this.control.handlers(),
      ...parts.turnHandlers(runtime),
      ...parts.sessionHandlers(runtime, () => this.bus?.bus ?? null),
      ...parts.serviceHandlers(services),
      ...parts.mcpHandlers(() => this.mcp),
      ...parts.taskHandlers(tasks),
      ...parts.cronHandlers(this.cron),
      ...parts.busHandlers(this.bus),
      ...parts.dashboardHandlers(runtime, () => this.http),
      ...basic,
    });
  }

  /** Rebuilds the runtime's settings from the current config (and the MCP hub's grants, which follow tool counts). */
  private applySettings(): void {
    const hub = this.mcp;
    if (!this.parts) return; // nothing to reconfigure before the runtime is assembled
    this.runtime?.reconfigure(this.parts.settingsFrom(this.config, hub ? (agent) => hub.grantsFor(agent) : undefined));
  }

  /** Reads crabtalk.toml; with none, writes a commented default first and says which provider it picked. */
  private loadConfig(): { config: Config; wroteDefault: string | null } {
    const { text, wroteDefault } = readConfigText(this.paths.config, () => defaultConfig(this.options.env));
    return { config: this.parse(text), wroteDefault };
  }

  private parse(text: string): Config {
    return parseConfig(
      text,
      { file: this.paths.config, env: this.options.env },
      { home: this.paths.home, builtinTools: BUILTIN_TOOL_NAMES },
    );
  }

  /** Reloads crabtalk.toml (SIGHUP); a bad file is logged and changes nothing. */
  reload(trigger: string): Promise<void> {
    return this.control?.reloadQuietly(trigger) ?? Promise.resolve();
  }

  get tcpPort(): number {
    return this.listeners?.tcpPort ?? 0;
  }

  /** Idempotent orderly shutdown. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  /**
   * Security by default on loopback TCP: a connection from another local user
   * is refused, as the owner-only Unix socket would refuse it. A peer whose
   * owner cannot be established (not Linux, no row in /proc/net/tcp{,6}) is
   * refused too: letting unknown owners in is how other users got a shell.
   */
  private refusal(conn: FramedConnection): { code: number; message: string; log: string } | null {
    if (!conn.tcp) return null;
    const uid = loopbackPeerUid(conn.tcp.remoteAddress, conn.tcp.remotePort, conn.tcp.localPort);
    const mine = process.getuid?.();
    if (uid !== undefined && uid === mine) return null;
    if (uid === undefined || mine === undefined)
      return {
        code: ErrorCode.Forbidden,
        message: `the daemon cannot tell which user runs this client (${conn.tcp.remoteAddress}), so TCP refuses it; connect over the Unix socket (${this.paths.socket}) instead`,
        log: `the owner of ${conn.tcp.remoteAddress}:${conn.tcp.remotePort} cannot be established`,
      };
    return {
      code: ErrorCode.Forbidden,
      message: `this daemon belongs to another user (uid ${mine}); connections from uid ${uid} are refused. Run your own daemon with your own CRABTALK_HOME.`,
      log: `the client runs as uid ${uid}, not the daemon's uid ${mine}`,
    };
  }

  /** Removes socket, port and lock files without waiting for anything (forced exit). */
  abandon(): void {
    this.http?.close();
    this.listeners?.close();
    this.lock?.release();
  }

  private async shutdown(reason: string): Promise<void> {
    log.info(`shutting down (${reason})`);
    this.control?.close();
    this.cron?.stop();
    this.remote?.stop();
    if (this.partialSweeper) clearInterval(this.partialSweeper);
    // Stop accepting; connected clients keep receiving while turns in flight get their grace period.
    this.listeners?.stopAccepting();
    this.http?.stopAccepting();
    await this.runtime?.shutdown(this.config.daemon.shutdownGraceMs);
    this.bus?.close(); // after the turns in flight: their end events are still queued
    this.cron?.flush();
    await this.services?.stop();
    await this.mcp?.close();
    // Clients go before the store closes, so none of them is answered by a closed store.
    this.listeners?.close();
    this.http?.close();
    for (const conn of this.routers.keys()) conn.close();
    await this.runtime?.close();
    this.lock?.release();
    log.info("stopped");
  }
}

/**
 * Runs the daemon until a signal stops it; resolves with the exit code.
 * Signals are handled from the first moment, so one arriving during start-up
 * stops the daemon as soon as it is up. A second SIGTERM/SIGINT during the
 * grace period exits at once (code 1), still removing socket, port and lock.
 */
export async function runDaemon(options: DaemonOptions): Promise<number> {
  const daemon = new Daemon(options);
  let requested: string | null = null;
  let resolveStop!: (signal: string) => void;
  const stopRequested = new Promise<string>((resolve) => (resolveStop = resolve));
  const onSignal = (signal: string) => {
    if (requested !== null) {
      log.warn(`${signal} again during shutdown: exiting now without waiting for turns in flight`);
      daemon.abandon();
      process.exit(1);
    }
    requested = signal;
    resolveStop(signal);
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGHUP", () => {
    log.info("SIGHUP received: reloading crabtalk.toml");
    void daemon.reload("SIGHUP");
  });
  await daemon.start();
  const signal = await stopRequested;
  try {
    await daemon.stop(signal);
    return 0;
  } catch (err) {
    log.error("shutdown failed:", err);
    return 1;
  }
}
