/**
 * Starts the real daemon for end-to-end tests: the compiled binary
 * (dist/crabtalk, built on first use, or $CRABTALK_BIN) in a fresh temporary
 * home, waits until its socket answers, and stops it with a signal.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { CrabtalkClient } from "../../src/client/client.ts";

const ROOT = join(import.meta.dir, "..", "..");

let built: string | null = null;

/** The compiled binary, built once per test process if missing. */
export function binaryPath(): string {
  if (process.env.CRABTALK_BIN) return process.env.CRABTALK_BIN;
  if (built) return built;
  const bin = join(ROOT, "dist", "crabtalk");
  if (!existsSync(bin)) {
    const r = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "build-binary.ts")], {
      stdout: "inherit",
      stderr: "inherit",
    });
    if (r.exitCode !== 0) throw new Error("building dist/crabtalk failed");
  }
  built = bin;
  return bin;
}

export function tempHome(prefix = "crabtalk-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface DaemonHandle {
  home: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  socket: string;
  /** Everything the daemon wrote to stderr so far. */
  stderr(): string;
  /**
   * Waits until stderr contains `text`: a line logged before a reply or a
   * socket event can still be in the pipe when the test sees that event.
   */
  waitLog(text: string, timeoutMs?: number): Promise<void>;
  client(): Promise<CrabtalkClient>;
  tcpPort(): number;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  kill9(): Promise<void>;
  cleanup(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartOptions {
  home?: string;
  /** crabtalk.toml contents; none written when undefined. */
  config?: string;
  env?: Record<string, string>;
  /** Wait for the socket to answer (default true). */
  waitReady?: boolean;
  args?: string[];
}

export async function startDaemon(options: StartOptions = {}): Promise<DaemonHandle> {
  const home = options.home ?? tempHome();
  if (options.config !== undefined) writeFileSync(join(home, "crabtalk.toml"), options.config);
  const proc = Bun.spawn([binaryPath(), "daemon", ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home, ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let stderrText = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of proc.stderr) stderrText += decoder.decode(chunk);
  })();
  void (async () => {
    for await (const _ of proc.stdout) void _;
  })();
  const socket = join(home, "crabtalk.sock");
  const handle: DaemonHandle = {
    home,
    proc,
    socket,
    stderr: () => stderrText,
    async waitLog(text, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!stderrText.includes(text)) {
        if (Date.now() > deadline)
          throw new Error(
            `the daemon did not log ${JSON.stringify(text)} within ${timeoutMs} ms; its stderr:\n${stderrText}`,
          );
        await Bun.sleep(20);
      }
    },
    client: () => CrabtalkClient.connect({ home }),
    tcpPort: () => Number(require("node:fs").readFileSync(join(home, "crabtalk.tcp"), "utf8").trim()),
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return await proc.exited;
    },
    async kill9() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
    async cleanup() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
      if (!options.home) rmSync(home, { recursive: true, force: true });
    },
    [Symbol.asyncDispose]() {
      return handle.cleanup();
    },
  };
  if (options.waitReady !== false) await waitReady(handle);
  return handle;
}

export async function waitReady(handle: DaemonHandle, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (handle.proc.exitCode !== null)
      throw new Error(`daemon exited with ${handle.proc.exitCode}: ${handle.stderr()}`);
    if (existsSync(handle.socket)) {
      try {
        const c = await handle.client();
        await c.request({ ping: {} });
        c.close();
        return;
      } catch {
        // not yet
      }
    }
    await Bun.sleep(20);
  }
  throw new Error(`daemon did not become ready in ${timeoutMs} ms: ${handle.stderr()}`);
}

/** Runs the CLI binary to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([binaryPath(), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}
