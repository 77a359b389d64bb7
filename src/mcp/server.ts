/**
 * One configured MCP server and its connection's lifecycle:
 *
 *   idle --ensure--> connecting --initialize+tools/list--> ready
 *                       |                                   |  crash (stdio exits, HTTP drops)
 *                       v                                   v
 *                     failed <------------------------------+
 *
 * Connecting is lazy (the first turn of a granted agent, a call, `crabtalk
 * mcp tools`) unless the server is eager. A failed server is retried on the
 * next use after a backoff (0 s for the first failure, then doubling from
 * 0.5 s to 30 s), unless `restart = "never"`. An idle stdio server is stopped
 * after idle_timeout_s and restarted on next use; its tools stay registered
 * meanwhile, since a call brings it back.
 */
import type { McpServerConfig } from "../config/mcp.ts";
import { errorMessage, sleep } from "../util/abort.ts";
import { logger } from "../util/log.ts";
import { openTransport, type OpenedTransport } from "./transport.ts";
import { clientSdk, type McpCallResult, type McpClient, type McpTool } from "./sdk.ts";
import { VERSION } from "../util/version.ts";

const log = logger("mcp");

export type McpState = "idle" | "connecting" | "ready" | "failed";

/** Why a server cannot serve a call right now; the tool answers "mcp server <name> unavailable: <why>". */
export class McpUnavailable extends Error {
  override readonly name = "McpUnavailable";
}

export interface ServerDeps {
  /** $CRABTALK_HOME/logs: stdio servers' stderr goes to mcp-<name>.log there. */
  logsDir: string;
  home: string;
  env: Record<string, string | undefined>;
  /** Called on every state change and tool list change. */
  onChange(server: McpServer, what: "state" | "tools"): void;
}

/** Backoff before retry n (1-based): 0, then 0.5 s doubling to 30 s. */
function backoffMs(failures: number): number {
  if (failures <= 1) return 0;
  return Math.min(30_000, 500 * 2 ** (failures - 2));
}

export class McpServer {
  state: McpState = "idle";
  error: string | undefined;
  /** null until the first tools/list answered. */
  tools: McpTool[] | null = null;
  restarts = 0;
  lastUsed = 0;
  private client: McpClient | null = null;
  private opened: OpenedTransport | null = null;
  private connecting: Promise<McpClient> | null = null;
  private failures = 0;
  private retryAt = 0;
  private everReady = false;
  private stopping = false;
  private inFlight = 0;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly config: McpServerConfig,
    private readonly deps: ServerDeps,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** The running stdio server's pid (remembered at connect: the SDK forgets it when the process exits). */
  pid: number | undefined;

  /** Whether a retry now would wait for the backoff (the turn hook skips such a server). */
  get backingOff(): boolean {
    return this.state === "failed" && Date.now() < this.retryAt;
  }

  /** A connected client, connecting first if needed (after the backoff, abortable). */
  async ensure(signal?: AbortSignal): Promise<McpClient> {
    if (this.client && this.state === "ready") return this.client;
    if (this.state === "failed" && this.config.restart === "never" && this.everReady)
      throw new McpUnavailable(`${this.error ?? "it failed"} (restart = "never")`);
    if (!this.connecting) {
      const wait = this.retryAt - Date.now();
      if (wait > 0) await sleep(wait, signal);
      this.connecting ??= this.connect().finally(() => {
        this.connecting = null;
      });
    }
    const pending = this.connecting;
    if (!signal) return pending;
    return Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
    ]);
  }

  private async connect(): Promise<McpClient> {
    const { config } = this;
    if (this.everReady || this.failures > 0) this.restarts++;
    this.setState("connecting", undefined);
    let opened: OpenedTransport | null = null;
    let client: McpClient | null = null;
    try {
      const sdk = await clientSdk();
      const deadline = Date.now() + config.connectTimeoutMs;
      const attempt = async (transport: OpenedTransport): Promise<McpClient> => {
        const c = new sdk.Client({ name: "crabtalk", version: VERSION }, { capabilities: {} });
        c.setNotificationHandler(sdk.ToolListChangedNotificationSchema, () => void this.refreshTools(c));
        client = c;
        opened = transport;
        await withDeadline(
          // The SDK's own timeout a second later: the deadline's message, which names the setting, wins.
          c.connect(transport.transport, { timeout: Math.max(1, deadline - Date.now()) + 1000 }),
          deadline,
          `did not answer initialize within ${config.connectTimeoutMs} ms (connect_timeout_ms)`,
        );
        return c;
      };
      const c = await openTransport(sdk, config, this.deps, attempt);
      const tools = await withDeadline(
        listAllTools(c, Math.max(1, deadline - Date.now())),
        deadline,
        `did not answer tools/list within ${config.connectTimeoutMs} ms (connect_timeout_ms)`,
      );
      c.onclose = () => this.closed(c);
      this.client = c;
      this.opened = opened;
      this.pid = (opened as OpenedTransport | null)?.pid ?? undefined;
      this.everReady = true;
      this.tools = tools;
      this.deps.onChange(this, "tools");
      this.setState("ready", undefined);
      this.touch();
      return c;
    } catch (err) {
      const why = (opened as OpenedTransport | null)?.explain(err) ?? errorMessage(err);
      // Not awaited: the SDK gives a stubborn child up to 4 s to exit, and the failure is reported now.
      void (client as McpClient | null)?.close().catch(() => undefined);
      this.failed(why);
      throw new McpUnavailable(why);
    }
  }

  /** The connection ended: on purpose (idle, shutdown) it is idle; otherwise failed, retried on next use. */
  private closed(client: McpClient): void {
    if (this.client !== client) return;
    const pid = this.pid;
    const why = this.opened?.explain(new Error("connection closed")) ?? "connection closed";
    this.client = null;
    this.opened = null;
    this.pid = undefined;
    if (this.stopping) return this.setState("idle", undefined);
    this.failed(pid ? `process ${pid} exited: ${why}` : why);
  }

  private failed(why: string): void {
    this.failures++;
    this.retryAt = Date.now() + backoffMs(this.failures + 1);
    this.setState("failed", why);
  }

  private async refreshTools(client: McpClient): Promise<void> {
    try {
      this.tools = await listAllTools(client, this.config.connectTimeoutMs);
      log.info(`mcp ${this.name}: tool list changed, now ${this.tools.length} tools`);
      this.deps.onChange(this, "tools");
    } catch (err) {
      log.warn(`mcp ${this.name}: refreshing tools after tools/list_changed failed: ${errorMessage(err)}`);
    }
  }

  /** Calls `tool`; throws McpUnavailable when the server cannot be reached, the SDK's McpError otherwise. */
  async call(
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
    onProgress?: (text: string) => void,
  ): Promise<McpCallResult> {
    this.inFlight++;
    this.touch();
    try {
      const client = await this.ensure(signal);
      const result = (await this.guard(
        client,
        signal,
        client.callTool({ name: tool, arguments: args }, undefined, {
          signal,
          timeout: this.config.callTimeoutMs,
          resetTimeoutOnProgress: true,
          ...(onProgress
            ? {
                onprogress: (p: { progress: number; total?: number; message?: string }) =>
                  onProgress(p.message ?? (p.total ? `${p.progress} of ${p.total}` : `${p.progress}`)),
              }
            : {}),
        }),
      )) as McpCallResult;
      this.failures = 0;
      return result;
    } finally {
      this.inFlight--;
      this.touch();
    }
  }

  /**
   * A call that failed because the connection is gone (an HTTP server that
   * went away, a broken pipe) drops the client: the server is failed and the
   * next use reconnects, as after a stdio crash.
   */
  private async guard<T>(client: McpClient, signal: AbortSignal, pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      if (!signal.aborted && isTransportFailure(err) && this.client === client) {
        this.client = null;
        this.opened = null;
        this.pid = undefined;
        this.failed(errorMessage(err));
        void client.close().catch(() => undefined);
      }
      throw err;
    }
  }

  /** Restarts the idle clock; an idle stdio server is stopped when it runs out. */
  private touch(): void {
    this.lastUsed = Date.now();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const idleS = this.config.idleTimeoutS;
    if (idleS === 0 || this.config.transport.kind !== "stdio") return;
    this.idleTimer = setTimeout(() => {
      if (this.inFlight > 0 || !this.client) return;
      log.info(`mcp ${this.name}: idle for ${idleS} s, stopping it (it restarts on next use)`);
      void this.stop();
    }, idleS * 1000);
    this.idleTimer.unref?.();
  }

  /** Closes the connection (the SDK ends a stdio child: stdin closed, then SIGTERM, then SIGKILL). */
  async stop(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const client = this.client;
    if (!client) return;
    this.stopping = true;
    try {
      await client.close();
    } catch (err) {
      log.warn(`mcp ${this.name}: closing failed: ${errorMessage(err)}`);
    } finally {
      this.stopping = false;
      if (this.client === client) {
        this.client = null;
        this.opened = null;
        this.pid = undefined;
        this.setState("idle", undefined);
      }
    }
  }

  private setState(state: McpState, error: string | undefined): void {
    const changed = state !== this.state || error !== this.error;
    this.state = state;
    this.error = error;
    if (!changed) return;
    if (state === "failed") log.warn(`mcp ${this.name}: failed: ${error}`);
    else log.info(`mcp ${this.name}: ${state}${state === "ready" ? ` (${this.tools?.length ?? 0} tools)` : ""}`);
    this.deps.onChange(this, "state");
  }
}

/** Whether an error means the connection is gone, rather than the server answering with a protocol error. */
export function isTransportFailure(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== "McpError") return true;
  return (err as { code?: unknown }).code === -32000; // ConnectionClosed
}

async function listAllTools(client: McpClient, timeoutMs: number): Promise<McpTool[]> {
  const tools: McpTool[] = [];
  let cursor: string | undefined;
  // A server paginating forever is bounded: 100 pages is far beyond any real tool list.
  for (let page = 0; page < 100; page++) {
    const res = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
    tools.push(...res.tools);
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  return tools;
}

function withDeadline<T>(p: Promise<T>, deadline: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), Math.max(1, deadline - Date.now()));
    }),
  ]).finally(() => clearTimeout(timer));
}
