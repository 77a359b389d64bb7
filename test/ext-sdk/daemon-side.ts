/**
 * The daemon's side of ext.proto for SDK tests: spawns an extension as a
 * real process with `serve --socket PATH`, connects to its Unix socket
 * (retrying until it listens) and exchanges real frames. `call` numbers its
 * requests, answers infer requests made under them, and resolves with the
 * final response, as the daemon's host must.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { extRequest, extResponse, type Init } from "../../src/protocol/codec.ts";
import type { ExtRequest, ExtResponse, SimpleMessage } from "../../src/protocol/gen/ext.ts";
import { connectPipe, type FramedPipe } from "../../src/transport/pipe.ts";

export interface CallOptions {
  /** Answers each ExtInferRequest made under this request. */
  onInfer?(messages: SimpleMessage[]): string | Promise<string>;
}

export interface Spawned {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  socket: string;
  dir: string;
  stderr(): string;
  stdout(): string;
}

/** Starts `command... serve --socket DIR/ext.sock [extra]` in a fresh temp dir. */
export function spawnExtension(command: string[], extra: string[] = [], env: Record<string, string> = {}): Spawned {
  const dir = mkdtempSync(join(tmpdir(), "ext-sdk-"));
  const socket = join(dir, "ext.sock");
  const proc = Bun.spawn([...command, "serve", "--socket", socket, ...extra], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = { stderr: "", stdout: "" };
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of proc.stderr) out.stderr += decoder.decode(chunk);
  })();
  void (async () => {
    for await (const chunk of proc.stdout) out.stdout += decoder.decode(chunk);
  })();
  return { proc, socket, dir, stderr: () => out.stderr, stdout: () => out.stdout };
}

/** Connects to the socket once the extension listens (it is polled: the extension creates it at start-up). */
export async function connectWhenListening(spawned: Spawned, timeoutMs = 15_000): Promise<FramedPipe> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawned.proc.exitCode !== null)
      throw new Error(`the extension exited (${spawned.proc.exitCode}) before listening:\n${spawned.stderr()}`);
    if (existsSync(spawned.socket)) {
      try {
        return await connectPipe({ unix: spawned.socket });
      } catch {
        // created but not accepting yet
      }
    }
    if (Date.now() > deadline)
      throw new Error(`the extension did not listen on ${spawned.socket}:\n${spawned.stderr()}`);
    await Bun.sleep(10);
  }
}

export class DaemonSide implements AsyncDisposable {
  private nextId = 1;
  private readonly waiting = new Map<number, { final(r: ExtResponse): void; options: CallOptions }>();
  /** Responses that carried no request id, in arrival order. */
  readonly unsolicited: ExtResponse[] = [];
  private unsolicitedWake: (() => void) | null = null;

  private constructor(
    readonly spawned: Spawned,
    readonly pipe: FramedPipe,
  ) {
    pipe.receive({ onFrame: (frame) => this.onFrame(frame) });
  }

  static async start(command: string[], extra: string[] = [], env: Record<string, string> = {}): Promise<DaemonSide> {
    const spawned = spawnExtension(command, extra, env);
    return new DaemonSide(spawned, await connectWhenListening(spawned));
  }

  /** Sends a request under a fresh id and resolves with its final response. */
  call(request: Init<ExtRequest>, options: CallOptions = {}): Promise<ExtResponse> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { final: resolve, options });
      this.pipe.send(extRequest.encode({ ...request, requestId: id })).catch(reject);
      void this.pipe.closed.then((reason) => reject(reason ?? new Error("the extension closed the connection")));
    });
  }

  /** Sends a frame as is (no id added). */
  sendRaw(request: Init<ExtRequest> | Uint8Array): Promise<void> {
    return this.pipe.send(request instanceof Uint8Array ? request : extRequest.encode(request));
  }

  /** The next response that carried no request id. */
  async nextUnsolicited(timeoutMs = 10_000): Promise<ExtResponse> {
    const deadline = Date.now() + timeoutMs;
    while (this.unsolicited.length === 0) {
      if (Date.now() > deadline) throw new Error("no response without an id arrived");
      await Promise.race([new Promise<void>((r) => (this.unsolicitedWake = r)), Bun.sleep(deadline - Date.now())]);
    }
    return this.unsolicited.shift()!;
  }

  /** Hello, configure, register tools: what the daemon does first. */
  async handshake(config: unknown = {}): Promise<{ ready: ExtResponse; tools: ExtResponse }> {
    const ready = await this.call({ hello: { version: "test" } });
    const configured = await this.call({ configure: { config: JSON.stringify(config) } });
    if (configured.msg !== "configured") throw new Error(`configure answered ${JSON.stringify(configured)}`);
    const tools = await this.call({ registerTools: {} });
    return { ready, tools };
  }

  /** Waits until the extension's stderr (its log) contains `text`. */
  async logged(text: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.spawned.stderr().includes(text)) {
      if (Date.now() > deadline)
        throw new Error(`the extension never logged ${JSON.stringify(text)}:\n${this.spawned.stderr()}`);
      await Bun.sleep(10);
    }
    return this.spawned.stderr();
  }

  /** Resolves with the exit code once the extension process has ended. */
  exited(): Promise<number> {
    return this.spawned.proc.exited;
  }

  private onFrame(frame: Uint8Array): void {
    const reply = extResponse.decode(frame);
    const id = Number(reply.requestId ?? 0);
    const waiter = this.waiting.get(id);
    if (!id || !waiter) {
      this.unsolicited.push(reply);
      this.unsolicitedWake?.();
      return;
    }
    if (reply.msg === "inferRequest") {
      const answer = waiter.options.onInfer ?? (() => "(no onInfer)");
      void Promise.resolve(answer(reply.inferRequest!.messages)).then((content) =>
        this.pipe.send(extRequest.encode({ inferResult: { content }, requestId: id })),
      );
      return;
    }
    this.waiting.delete(id);
    waiter.final(reply);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.pipe.close();
    if (this.spawned.proc.exitCode === null) this.spawned.proc.kill("SIGKILL");
    await this.spawned.proc.exited;
    rmSync(this.spawned.dir, { recursive: true, force: true });
  }
}

/** The command that runs a TypeScript file with the Bun running these tests. */
export function bunRun(file: string): string[] {
  return [process.execPath, file];
}
