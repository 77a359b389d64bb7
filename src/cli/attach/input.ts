/**
 * Keyboard input for attach: one node:readline interface for the whole
 * REPL, so line editing, history (persisted in $CRABTALK_HOME/history, one
 * entry a line, newest last) and type-ahead all survive from prompt to
 * prompt. At the prompt Ctrl-C clears the line and Ctrl-D on an empty
 * line leaves. While a turn runs the prompt is off screen and readline's
 * echo is muted (its output goes through a gate), so keys typed then do
 * not land in the streaming answer; Ctrl-C reaches the turn as a cancel,
 * and a line finished with Enter waits for the next prompt. A yes/no
 * question (approvals) unmutes for its own short prompt.
 *
 * When stdin is not a terminal (a script pipes lines in) the same line
 * queue is fed without echo or prompt, and Ctrl-C arrives as SIGINT.
 */
import { createInterface, type Interface } from "node:readline";
import { Writable } from "node:stream";
import { appendFileSync, existsSync, readFileSync } from "node:fs";

/** Entries kept in the file and offered by Up: plenty for recall, small enough to load instantly. */
const HISTORY_LIMIT = 1000;

export function loadHistory(file: string): string[] {
  if (!existsSync(file)) return [];
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .slice(-HISTORY_LIMIT);
  } catch {
    return [];
  }
}

/** readline's output: the terminal, or nothing while muted. */
class EchoGate extends Writable {
  muted = false;
  readonly isTTY = true;

  constructor(private readonly target: NodeJS.WriteStream) {
    super({ decodeStrings: false });
    target.on("resize", () => this.emit("resize"));
  }

  get columns(): number {
    return this.target.columns || 80;
  }

  get rows(): number {
    return this.target.rows || 24;
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    if (!this.muted) this.target.write(chunk);
    done();
  }
}

type Mode = "idle" | "prompt" | "turn" | "question";

export class TerminalInput {
  private readonly history: string[];
  private readonly rl: Interface;
  private readonly gate: EchoGate | null;
  private readonly queued: string[] = [];
  private waiter: ((line: string | null) => void) | null = null;
  private question: ((answer: string | null) => void) | null = null;
  private onInterrupt: (() => void) | null = null;
  private mode: Mode = "idle";
  private prompt = "› ";
  private eof = false;
  readonly tty: boolean;

  constructor(
    private readonly historyFile: string,
    stdin: NodeJS.ReadStream = process.stdin,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    /** Tab completion (see complete.ts); terminals only. */
    complete?: (line: string) => Promise<[string[], string]>,
  ) {
    this.tty = Boolean(stdin.isTTY && stdout.isTTY);
    this.history = loadHistory(historyFile);
    this.gate = this.tty ? new EchoGate(stdout) : null;
    this.rl = this.gate
      ? createInterface({
          input: stdin,
          output: this.gate,
          terminal: true,
          history: [...this.history].reverse(),
          historySize: HISTORY_LIMIT,
          removeHistoryDuplicates: true,
          prompt: this.prompt,
          ...(complete
            ? {
                completer: (line: string, done: (err: Error | null, result: [string[], string]) => void) =>
                  void complete(line).then(
                    (r) => done(null, r),
                    () => done(null, [[], line]),
                  ),
              }
            : {}),
        })
      : createInterface({ input: stdin, terminal: false });
    this.rl.on("line", (line) => this.onLine(line));
    this.rl.on("close", () => this.onClose());
    if (this.gate) this.rl.on("SIGINT", () => this.onSigint());
    else process.on("SIGINT", () => this.onSigint());
    this.setMuted(true);
  }

  /** Whether a prompt is on screen now (asynchronous notices must go above it). */
  get prompting(): boolean {
    return this.mode === "prompt";
  }

  /** One line from the user; null on Ctrl-D / end of input. */
  async readLine(prompt: string): Promise<string | null> {
    this.prompt = prompt;
    const next = this.queued.shift();
    if (next !== undefined) {
      if (this.gate) this.stdout.write(`${prompt + next}\n`);
      return next;
    }
    if (this.eof) return null;
    this.mode = "prompt";
    this.setMuted(false);
    if (this.gate) {
      this.rl.setPrompt(prompt);
      this.rl.prompt(true);
    }
    const line = await new Promise<string | null>((resolve) => (this.waiter = resolve));
    this.mode = "idle";
    this.setMuted(true);
    return line;
  }

  /** Prints text above the prompt and redraws the prompt with what was typed so far. */
  printAbove(text: string): void {
    if (this.mode !== "prompt" || !this.gate) {
      this.stdout.write(text);
      return;
    }
    this.stdout.write(`\r\x1b[K${text}`);
    this.rl.prompt(true);
  }

  /** Takes the prompt off screen (another client's turn is about to stream); `resume` puts it back. */
  suspend(): void {
    if (this.mode !== "prompt") return;
    if (this.gate) this.stdout.write("\r\x1b[K");
    this.mode = "idle";
    this.setMuted(true);
  }

  resume(): void {
    if (!this.waiter || this.mode !== "idle") return;
    this.mode = "prompt";
    this.setMuted(false);
    if (this.gate) this.rl.prompt(true);
  }

  /** While a turn runs: Ctrl-C calls `onInterrupt`; typed keys are not echoed. */
  watchKeys(onInterrupt: () => void): void {
    this.onInterrupt = onInterrupt;
    if (this.mode === "idle") this.mode = "turn";
  }

  unwatchKeys(): void {
    this.onInterrupt = null;
    if (this.mode === "turn") this.mode = "idle";
  }

  /** A one-line question while a turn runs; null when aborted, on Ctrl-C or at end of input. */
  async ask(question: string, signal: AbortSignal): Promise<string | null> {
    if (signal.aborted || this.eof) return null;
    const before = this.mode;
    this.mode = "question";
    this.setMuted(false);
    if (this.gate) {
      this.rl.setPrompt(question);
      this.rl.prompt();
    } else this.stdout.write(question);
    try {
      return await new Promise<string | null>((resolve) => {
        const onAbort = () => {
          if (this.gate) this.stdout.write("\r\x1b[K");
          resolve(null);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        this.question = (answer) => {
          signal.removeEventListener("abort", onAbort);
          resolve(answer);
        };
      });
    } finally {
      this.question = null;
      this.mode = before === "prompt" ? "prompt" : this.onInterrupt ? "turn" : "idle";
      this.setMuted(this.mode !== "prompt");
      if (this.gate) this.rl.setPrompt(this.prompt);
    }
  }

  private setMuted(muted: boolean): void {
    if (this.gate) this.gate.muted = muted;
  }

  private onLine(line: string): void {
    if (this.question) return this.question(line);
    this.remember(line);
    const waiter = this.waiter;
    if (waiter) {
      // Mute now, not when the reader resumes: readline echoes the rest of a pasted chunk synchronously.
      this.waiter = null;
      this.mode = "idle";
      this.setMuted(true);
      return waiter(line);
    }
    this.queued.push(line);
  }

  private onSigint(): void {
    if (this.question) {
      if (this.gate) this.stdout.write("^C\n");
      return this.question(null);
    }
    if (this.onInterrupt) return this.onInterrupt();
    if (this.mode === "prompt" && this.gate) {
      // Like a shell: Ctrl-C abandons the line being typed.
      this.stdout.write("^C\n");
      this.rl.write(null, { ctrl: true, name: "u" });
      this.rl.prompt();
      return;
    }
    if (!this.gate) process.exit(130);
  }

  private onClose(): void {
    this.eof = true;
    this.question?.(null);
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.(null);
  }

  private remember(line: string): void {
    const entry = line.trim();
    if (!entry) return;
    if (this.history[this.history.length - 1] === entry) return;
    this.history.push(entry);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
    try {
      appendFileSync(this.historyFile, `${entry}\n`, { mode: 0o600 });
    } catch {
      // History is a convenience: a read-only home must not break the REPL.
    }
  }

  close(): void {
    this.onInterrupt = null;
    this.rl.close();
  }
}
