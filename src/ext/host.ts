/**
 * ServiceHost: one configured service, from spawn to shutdown, restarted
 * by its policy. It never throws into the daemon: whatever a service does
 * (fails to start, never finishes the handshake, crashes mid-call, writes
 * garbage) ends in its state, its last error and its log, and the daemon
 * and the other services go on.
 *
 * Attempt: spawn (see spawn.ts) -> connect to the socket the extension
 * listens on -> ExtHello/ExtReady, ExtConfigure/ExtConfigured,
 * ExtRegisterTools/ExtToolSchemas, each within HANDSHAKE_STEP_MS -> tools
 * into the registry and hooks into the hub -> running until the process
 * exits or the connection breaks -> tools withdrawn (calls answer
 * "unavailable"), hooks removed, in-flight calls failed at once.
 *
 * Restarts follow policy.ts (never / on_failure / always, backoff 1 s
 * doubling to 60 s, reset after 60 s healthy); a crash loop ends in
 * `failed` with the last exit code and the last lines of its output.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Tool, ToolSource } from "../agent/types.ts";
import type { ServiceConfig } from "../config/services.ts";
import { connectPipe, type FramedPipe } from "../transport/pipe.ts";
import type { ExtResponse } from "../protocol/gen/ext.ts";
import { errorMessage, sleep } from "../util/abort.ts";
import { logger } from "../util/log.ts";
import { redact } from "../util/redact.ts";
import { VERSION } from "../util/version.ts";
import { capabilityNames, hooksFrom, toolsFrom } from "./capabilities.ts";
import { ExtClient, type ExtMessage } from "./client.ts";
import { type ServiceProcess, serviceLog, spawnService } from "./spawn.ts";
import type { HostDeps } from "./deps.ts";
import { inferFor } from "./infer.ts";
import { CRASH_LOOP, CRASH_WINDOW_MS, decide, freshMemory, type RestartMemory } from "./policy.ts";

const log = logger("services");

export type ServiceState = "starting" | "running" | "restarting" | "failed" | "stopped";

export const HANDSHAKE_STEP_MS = 10_000;
export const SHUTDOWN_GRACE_MS = 5_000;
/** How long a process that closed its connection may take to exit before it is stopped. */
const LINGER_MS = 1_000;

interface Outcome {
  failed: boolean;
  why: string;
}

export class ServiceHost {
  private current: ServiceState = "stopped";

  get state(): ServiceState {
    return this.current;
  }

  /** Every change of state is told to the daemon (the event bus publishes `service:<name>:<state>`). */
  private set state(next: ServiceState) {
    if (next === this.current) return;
    this.current = next;
    this.deps.onState?.(this.cfg.name, next);
  }
  pid = 0;
  restarts = 0;
  runningSince = 0;
  capabilities: string[] = [];
  tools: string[] = [];
  lastError = "";
  lastExitCode = -1;
  private child: ServiceProcess | null = null;
  private client: ExtClient | null = null;
  private removeHooks: (() => void) | null = null;
  private droppedBefore = 0;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake = new AbortController();
  private memory: RestartMemory = freshMemory();
  /** Why this attempt's process was killed by the host (a protocol violation), if it was. */
  private faultWhy: string | null = null;
  readonly log: (line: string) => void;
  readonly source: ToolSource;

  constructor(
    public cfg: ServiceConfig,
    private readonly deps: HostDeps,
  ) {
    this.log = serviceLog(this.logFile, deps.logMaxBytes);
    this.source = { kind: "extension", name: cfg.name };
  }

  get logFile(): string {
    return join(this.deps.paths.logs, `${this.cfg.name}.log`);
  }

  get socket(): string {
    return join(this.deps.paths.home, "services", `${this.cfg.name}.sock`);
  }

  /** Events the observer queue dropped, over every run. */
  get droppedEvents(): number {
    const hook = `ext:${this.cfg.name}`;
    const live = this.deps.runtime.hooks.observerStats().find((s) => s.hook === hook)?.dropped ?? 0;
    return this.droppedBefore + (this.removeHooks ? live : 0);
  }

  /** The connected extension, when running. */
  get connection(): ExtClient | null {
    return this.state === "running" ? this.client : null;
  }

  /** Starts the supervision loop in the background; returns at once. */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.wake = new AbortController();
    this.loop = this.run().finally(() => (this.loop = null));
  }

  /** Stops the service (ExtShutdown, up to 5 s, SIGTERM, SIGKILL) and its supervision. */
  async stop(): Promise<void> {
    const was = this.state;
    this.stopping = true;
    this.wake.abort(new Error("stopping"));
    await this.terminate();
    await this.loop;
    this.state = "stopped";
    if (was !== "stopped") this.say(`stopped (it was ${was})`);
  }

  /** Stops and starts again with a fresh backoff and failure count. */
  async restart(): Promise<void> {
    this.say("restart requested");
    await this.stop();
    this.memory = freshMemory();
    this.lastError = "";
    this.start();
  }

  /** Sends ExtConfigure with `config` (JSON) to the running extension and waits for ExtConfigured. */
  async configure(config: string): Promise<void> {
    const client = this.connection;
    if (!client) return;
    await this.expect(client, { configure: { config } }, "configured", this.cfg.timeoutMs);
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const outcome = await this.attempt().catch(
        (err: unknown): Outcome => ({ failed: true, why: `the host failed: ${errorMessage(err)}` }),
      );
      const ranMs = this.runningSince ? Date.now() - this.runningSince : 0;
      this.runningSince = 0;
      this.pid = 0;
      if (this.stopping) break;
      if (outcome.failed) this.lastError = outcome.why;
      const policy = this.cfg.restart;
      const next = decide(policy, { failed: outcome.failed, ranMs, now: Date.now() }, this.memory);
      this.memory = next.memory;
      if (next.action === "stop") {
        this.state = next.state;
        if (next.crashLoop) {
          const tail = this.child?.tail().slice(-5) ?? [];
          this.lastError = `crash loop: ${CRASH_LOOP} failures within ${CRASH_WINDOW_MS / 1000} s; last: ${outcome.why}${tail.length ? `; last output: ${tail.join(" | ")}` : ""}`;
          this.say(`failed: ${this.lastError}; \`crabtalk services restart ${this.cfg.name}\` tries again`);
        } else this.say(`${this.state}: ${outcome.why} (restart = "${policy}")`);
        break;
      }
      this.state = "restarting";
      this.say(`${outcome.why}; restarting in ${next.delayMs} ms`);
      try {
        await sleep(next.delayMs, this.wake.signal);
      } catch {
        break;
      }
      this.restarts++;
    }
  }

  /** One spawn-to-exit of the service. */
  private async attempt(): Promise<Outcome> {
    const { cfg } = this;
    this.state = "starting";
    this.faultWhy = null;
    const argv = [cfg.executable, ...cfg.args, "serve"];
    if (cfg.kind === "extension") {
      rmSync(this.socket, { force: true });
      argv.push("--socket", this.socket);
    } else argv.push("--daemon", this.deps.paths.socket, "--config", cfg.argvConfig);
    // A gateway's config secrets travel as ${VAR} in its arguments and as variables in its environment.
    const configEnv = cfg.kind === "gateway" ? cfg.configEnv : {};
    const child = spawnService(
      {
        argv,
        env: { ...this.deps.childEnv, CRABTALK_HOME: this.deps.paths.home, ...configEnv, ...cfg.env },
        cwd: this.deps.paths.home,
        logFile: this.logFile,
        logMaxBytes: this.deps.logMaxBytes,
        secrets: this.deps.secrets,
      },
      this.log,
    );
    this.child = child;
    this.pid = child.pid;
    this.say(`started (pid ${child.pid}): ${argv.join(" ")}`);
    const exit = child.exited.then((e) => {
      this.lastExitCode = e.code;
      return e.signal ? `it was killed by ${e.signal}` : `it exited with code ${e.code}`;
    });
    if (cfg.kind === "gateway") {
      this.state = "running";
      this.runningSince = Date.now();
      const why = await exit;
      return { failed: this.lastExitCode !== 0, why };
    }
    let why: string | null = null;
    const ready = await this.handshake(child, exit).catch((err: unknown) => {
      why = `the handshake failed: ${errorMessage(err)}`;
      return null;
    });
    if (!ready) {
      // A process that ended by itself is judged by its exit code (a clean exit is not a failure).
      const ended = child.proc.exitCode !== null || child.proc.signalCode !== null;
      this.client?.close();
      child.proc.kill("SIGKILL");
      await exit;
      rmSync(this.socket, { force: true });
      return { failed: !ended || this.lastExitCode !== 0, why: why ?? "the handshake failed" };
    }
    this.state = "running";
    this.runningSince = Date.now();
    this.say(
      `running: capabilities ${this.capabilities.join(", ") || "none"}; tools ${this.tools.join(", ") || "none"}${ready.oneAtATime ? "; it never echoes request ids, so it is served one call at a time" : ""}`,
    );
    const closedFirst = await Promise.race([exit.then(() => false), ready.closed.then(() => true)]);
    // Out of service before anything else: new calls answer "unavailable" from here on.
    this.deps.runtime.registry.withdrawSource(
      this.source,
      `${cfg.name} is down (${this.faultWhy ?? (closedFirst ? "its connection closed" : "it exited")})`,
    );
    this.dropHooks();
    ready.close();
    // A process that closed its connection usually exits right after; one that lingers is stopped.
    const lingered =
      closedFirst && !(await Promise.race([exit.then(() => true), Bun.sleep(LINGER_MS).then(() => false)]));
    child.proc.kill("SIGKILL");
    const exitWhy = await exit;
    rmSync(this.socket, { force: true });
    const failed = this.lastExitCode !== 0 || lingered || this.faultWhy !== null;
    const ended = lingered ? `it closed its connection but kept running, so it was stopped; ${exitWhy}` : exitWhy;
    return { failed, why: this.faultWhy ? `${this.faultWhy}; ${ended}` : ended };
  }

  private async handshake(child: ServiceProcess, exit: Promise<string>): Promise<ExtClient> {
    const { cfg } = this;
    const pipe = await this.connect(exit);
    const client = new ExtClient(pipe, {
      service: cfg.name,
      onInfer: (messages, agent, signal) =>
        inferFor(this.deps.runtime, cfg, messages, agent, signal, (line) => this.say(line)),
      onViolation: (why) => this.fault(child, why),
      onDesync: (why) => this.fault(child, why),
    });
    this.client = client;
    const died = exit.then((why) => {
      throw new Error(`${why} during the handshake`);
    });
    const step = <T>(p: Promise<T>) => Promise.race([p, died]);
    const hello = await step(this.expect(client, { hello: { version: VERSION } }, "ready", HANDSHAKE_STEP_MS));
    const caps = hello.ready?.capabilities ?? [];
    this.capabilities = capabilityNames(caps);
    await step(this.expect(client, { configure: { config: cfg.config } }, "configured", HANDSHAKE_STEP_MS));
    let tools: Tool[] = [];
    if (this.capabilities.includes("tools")) {
      const schemas = await step(this.expect(client, { registerTools: {} }, "toolSchemas", HANDSHAKE_STEP_MS));
      const made = toolsFrom(cfg.name, schemas.toolSchemas?.tools ?? [], client, cfg.timeoutMs);
      for (const bad of made.invalid) this.say(`tool skipped: ${bad}`);
      tools = made.tools;
    }
    const { refused } = this.deps.runtime.registry.setSource(this.source, tools);
    for (const r of refused) this.say(`tool ${r.name} refused: ${r.reason}`);
    const refusedNames = new Set(refused.map((r) => r.name));
    this.tools = tools.map((t) => t.name).filter((n) => !refusedNames.has(n));
    const hooks = hooksFrom({
      service: cfg.name,
      client,
      timeoutMs: cfg.timeoutMs,
      capabilities: new Set(this.capabilities),
      tools: (defs) => toolsFrom(cfg.name, defs, client, cfg.timeoutMs).tools,
    });
    if (
      hooks.buildAgent ||
      hooks.beforeRun ||
      hooks.afterRun ||
      hooks.compactionPrompt ||
      hooks.afterCompact ||
      hooks.observe
    )
      this.removeHooks = this.deps.runtime.hooks.add(hooks);
    return client;
  }

  /** Connects to the socket the extension listens on, as soon as it exists; gives up after HANDSHAKE_STEP_MS or when the process exits. */
  private async connect(exit: Promise<string>): Promise<FramedPipe> {
    const deadline = Date.now() + HANDSHAKE_STEP_MS;
    let exited: string | null = null;
    void exit.then((why) => (exited = why));
    let last = "";
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      if (exited) throw new Error(`${exited} before listening on ${this.socket}`);
      try {
        return await connectPipe({ unix: this.socket });
      } catch (err) {
        last = errorMessage(err);
      }
      if (Date.now() >= deadline)
        throw new Error(`nothing listened on ${this.socket} within ${HANDSHAKE_STEP_MS} ms (${last})`);
      await Bun.sleep(delay);
    }
  }

  private async expect(client: ExtClient, message: ExtMessage, kind: string, timeoutMs: number): Promise<ExtResponse> {
    const reply = await client.call(message, { timeoutMs });
    if (reply.msg !== kind)
      throw new Error(
        `${message && Object.keys(message)[0]} was answered by ${reply.msg ?? "an empty message"}, not ${kind}`,
      );
    return reply;
  }

  /** The extension broke the protocol: it is killed, and its supervision restarts it by policy. */
  private fault(child: ServiceProcess, why: string): void {
    if (this.faultWhy) return;
    this.faultWhy = why;
    this.lastError = why;
    this.say(`${why}; stopping it`);
    child.proc.kill("SIGKILL");
  }

  private dropHooks(): void {
    if (!this.removeHooks) return;
    this.droppedBefore = this.droppedEvents;
    this.removeHooks();
    this.removeHooks = null;
  }

  /** Orderly stop of the current process: ExtShutdown and up to SHUTDOWN_GRACE_MS (a running extension), SIGTERM, 2 s, SIGKILL. */
  private async terminate(): Promise<void> {
    const child = this.child;
    if (!child || child.proc.exitCode !== null || child.proc.signalCode !== null) return;
    const gone = child.exited.then(() => true);
    const within = (ms: number) => Promise.race([gone, Bun.sleep(ms).then(() => false)]);
    // A running extension is asked first; a gateway, or an extension still in its handshake, gets SIGTERM at once.
    if (this.cfg.kind === "extension" && this.state === "running" && this.client) {
      // Not awaited: an extension that stopped reading must not hold the shutdown.
      void this.client.notify({ shutdown: {} }).catch(() => {});
      if (await within(SHUTDOWN_GRACE_MS)) return;
    }
    child.proc.kill("SIGTERM");
    if (await within(2_000)) return;
    child.proc.kill("SIGKILL");
    await gone;
  }

  private say(line: string): void {
    const clean = redact(line, this.deps.secrets());
    log.info(`${this.cfg.name}: ${clean}`);
    this.log(`daemon ${clean}`);
  }
}
