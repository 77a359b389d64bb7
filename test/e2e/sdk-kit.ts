/**
 * Shared pieces of the client SDK and example tests: a Unix-socket proxy in
 * front of the daemon whose connections the test can cut (a real dropped
 * connection, as the client sees it), and a child process whose stdout is
 * read as JSON lines the test can wait on.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { tempHome } from "../helpers/daemon.ts";

export interface CuttableProxy {
  /** The socket clients connect to. */
  path: string;
  /** Connections made through it so far. */
  readonly accepted: number;
  /** Destroys every open connection, both sides: the client sees the daemon go away. */
  cut(): void;
  close(): Promise<void>;
}

/** Forwards each connection on a new Unix socket to `target`, byte for byte. */
export async function cuttableProxy(target: string): Promise<CuttableProxy> {
  const path = join(tempHome("crabtalk-proxy-"), "proxy.sock");
  const open = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = createConnection({ path: target });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    get accepted() {
      return accepted;
    },
    cut() {
      for (const s of open) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface LineProcess {
  /** Every stdout line parsed as JSON so far (non-JSON lines as { raw }). */
  lines: Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first line (already seen or later) matching `pred`. */
  waitLine(
    pred: (line: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  exited: Promise<number>;
  kill(): void;
}

/** Starts `cmd`, reading its stdout as JSON lines. */
export function spawnLines(cmd: string[], options: { cwd?: string; env?: Record<string, string> } = {}): LineProcess {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...options.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let err = "";
  let ended = false;
  const stdoutDone = (async () => {
    let buf = "";
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          lines.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          lines.push({ raw: text });
        }
        nl = buf.indexOf("\n");
      }
      for (const w of waiters.splice(0)) w();
    }
    ended = true;
  })();
  const stderrDone = (async () => {
    for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
  })();
  return {
    lines,
    stderr: () => err,
    async waitLine(pred, what, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (ended)
          throw new Error(
            `${cmd.join(" ")} ended its output before ${what}; stdout: ${JSON.stringify(lines)}; stderr: ${err}`,
          );
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(`no ${what} within ${timeoutMs} ms; stdout: ${JSON.stringify(lines)}; stderr: ${err}`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          new Promise<void>((r) => waiters.push(r)),
          stdoutDone,
          new Promise<void>((r) => (timer = setTimeout(r, left))),
        ]);
        clearTimeout(timer);
      }
    },
    // After its output is read to the end: exit can be seen before the last chunk of a pipe.
    exited: Promise.all([proc.exited, stdoutDone, stderrDone]).then(([code]) => code),
    kill: () => proc.kill(),
  };
}
