/**
 * What the CLI end-to-end tests share: a scripted model that "remembers"
 * (it answers from the conversation the daemon sends it, so a second
 * answer can prove the first turn was kept), a daemon + fake provider
 * stack in a temp home, and a tmux driver that runs a command in a real
 * terminal of a given size, types into it and reads the screen back as
 * plain text (capture-pane without -e), each on its own tmux server.
 */
import { spawnSync } from "node:child_process";
import { FakeProvider, sseReply, type RecordedRequest, type Reply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { binaryPath, startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";

interface ChatMessage {
  role: string;
  content?: unknown;
  tool_calls?: unknown[];
}

function text(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p: { text?: string }) => p.text ?? "").join("");
  return "";
}

/**
 * The scripted model. The last user message decides:
 * - "remember WORD": acknowledges; "which word?": finds it in earlier user messages;
 * - "run CMD": calls bash with CMD, then (after the result) says "ran it";
 * - "format": answers with Markdown; "think": thinks, then answers;
 * - anything else: "echo: MESSAGE".
 */
export function brain(req: RecordedRequest): Reply {
  const body = req.body as { messages?: ChatMessage[] };
  const messages = body.messages ?? [];
  const last = messages[messages.length - 1];
  const users = messages.filter((m) => m.role === "user").map((m) => text(m.content));
  const said = users[users.length - 1] ?? "";
  const usage = { prompt: 10 * messages.length, completion: 7 };
  if (last?.role === "tool")
    return sseReply(openaiSse({ text: `ran it: ${text(last.content).trim().slice(0, 40) || "(no output)"}`, usage }));
  let m = /^remember (\w+)/i.exec(said);
  if (m) return sseReply(openaiSse({ text: `OK, I will remember ${m[1]}.`, usage }));
  if (/which word/i.test(said)) {
    const earlier = users.map((u) => /^remember (\w+)/i.exec(u)?.[1]).filter(Boolean);
    return sseReply(
      openaiSse({
        text: earlier.length ? `The word was ${earlier[earlier.length - 1]}.` : "You never told me a word.",
        usage,
      }),
    );
  }
  m = /^run (.+)$/i.exec(said);
  if (m)
    return sseReply(
      openaiSse({ toolCalls: [{ id: `call_${req.index}`, name: "bash", args: { command: m[1] } }], usage }),
    );
  if (/^format/i.test(said)) {
    return sseReply(
      openaiSse({
        text: "# Plan\n\nHere is **bold** and `code`:\n\n- first item\n- second item\n\n```js\nconst x = 1;\n```\nDone.",
        textDeltas: 9,
        usage,
      }),
      { chunkDelayMs: 20 },
    );
  }
  if (/^think/i.test(said))
    return sseReply(openaiSse({ thinking: "Let me consider this carefully.", text: "Thought about it.", usage }));
  return sseReply(openaiSse({ text: `echo: ${said}`, usage }));
}

export function configFor(fakeUrl: string, extra = ""): string {
  return `[daemon]\ntcp = false\n\n[provider.fake]\nkind = "openai"\nbase_url = "${fakeUrl}/v1"\nmodels = ["fake-model"]\n\n[agents.crab]\nmodel = "fake-model"\n${extra}`;
}

export interface Stack extends AsyncDisposable {
  fake: FakeProvider;
  daemon: DaemonHandle;
  home: string;
  config: string;
  /** Stops the daemon (SIGTERM) and starts a new one on the same home. */
  restart(): Promise<void>;
}

export async function startStack(extraConfig = "", tcp = false): Promise<Stack> {
  const fake = await FakeProvider.start();
  fake.route(brain);
  const home = tempHome("crabtalk-cli-");
  let config = configFor(fake.url, extraConfig);
  // Port 0: the daemon picks a free port and writes it to $CRABTALK_HOME/crabtalk.tcp, which `--tcp` reads.
  if (tcp) config = config.replace("tcp = false", 'tcp = "127.0.0.1:0"');
  const stack: Stack = {
    fake,
    home,
    config,
    daemon: await startDaemon({ home, config }),
    async restart() {
      await stack.daemon.stop();
      stack.daemon = await startDaemon({ home, config });
    },
    async [Symbol.asyncDispose]() {
      await stack.daemon.cleanup();
      await fake[Symbol.asyncDispose]();
      spawnSync("rm", ["-rf", home]);
    },
  };
  return stack;
}

/** Runs the compiled CLI to completion. */
export async function runCrabtalk(
  home: string,
  args: string[],
  opts: { stdin?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([binaryPath(), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home, ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
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

let tmuxCount = 0;

/** A real terminal: a private tmux server running one command in a window of the given size. */
export class Tmux implements AsyncDisposable {
  private constructor(private readonly socket: string) {}

  static start(
    command: string[],
    opts: { home: string; cols: number; rows?: number; env?: Record<string, string> },
  ): Tmux {
    const socket = `crabtalk-cli-${process.pid}-${++tmuxCount}`;
    const env = {
      CRABTALK_HOME: opts.home,
      HOME: opts.home,
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      TERM: "xterm-256color",
      LANG: "C.UTF-8",
      ...opts.env,
    };
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const t = new Tmux(socket);
    // `; sleep` keeps the pane (and its last screen) after the command exits, so a test can read it.
    const shellCmd = `env -i ${envArgs.map(shellQuote).join(" ")} ${command.map(shellQuote).join(" ")}; echo "[exited $?]"; sleep 600`;
    t.run(["new-session", "-d", "-s", "t", "-x", String(opts.cols), "-y", String(opts.rows ?? 40), shellCmd]);
    t.run(["set-option", "-t", "t", "status", "off"]);
    return t;
  }

  private run(args: string[]): string {
    const r = spawnSync("tmux", ["-L", this.socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tmux ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** Types text (literally) and optionally Enter. */
  type(text: string, enter = true): void {
    if (text) this.run(["send-keys", "-t", "t", "-l", text]);
    if (enter) this.run(["send-keys", "-t", "t", "Enter"]);
  }

  /** Sends key names: C-c, C-d, Up, Enter... */
  keys(...keys: string[]): void {
    this.run(["send-keys", "-t", "t", ...keys]);
  }

  /** Appends every byte the pane's program writes, before tmux interprets it, to `file`. */
  pipeTo(file: string): void {
    this.run(["pipe-pane", "-o", "-t", "t", `cat >> ${shellQuote(file)}`]);
  }

  /** The pane's title, which an OSC 0 or OSC 2 from the program would change. */
  paneTitle(): string {
    return this.run(["display-message", "-p", "-t", "t", "#{pane_title}"]).trim();
  }

  /** The screen (plus scrollback) as plain text, trailing blank lines removed. */
  screen(): string {
    return this.run(["capture-pane", "-p", "-t", "t", "-S", "-200"]).replace(/\n+$/, "");
  }

  async waitFor(pattern: string | RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.screen();
      if (typeof pattern === "string" ? screen.includes(pattern) : pattern.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)}; screen:\n${screen}`);
      await Bun.sleep(50);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    spawnSync("tmux", ["-L", this.socket, "kill-server"]);
  }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export { binaryPath };
