/**
 * The `bash` tool: runs `sh -c <command>` in the agent's cwd and returns
 * stdout and stderr combined (in arrival order) with the exit code.
 *
 * The command runs in its own session and process group, so a timeout or a
 * cancel kills everything it started (SIGTERM to the group, SIGKILL after a
 * grace period), not just the shell; processes that left the group (setsid)
 * are found by a tag in their environment and killed too, and the result
 * says what was killed and what survived (process-tree.ts). Its environment is an allow-list of
 * the daemon's (PATH, HOME, locale...): secrets such as *_API_KEY in the
 * daemon's environment never reach a command. Output is capped, keeping the
 * head and the tail, because the end of a build log matters as much as its
 * start. Background processes a command leaves running are not killed when
 * it exits normally; the tool stops waiting for their output shortly after
 * the shell exits.
 */
import type { Tool } from "../agent/types.ts";
import { failure } from "./fs.ts";
import { CappedOutput } from "./output.ts";
import { newTag, sweepNote, sweepTagged, TAG_VAR, type SweepResult } from "./process-tree.ts";

export interface BashExecOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  /** Called with every chunk of stdout or stderr, in arrival order. */
  onData(chunk: Uint8Array): void;
}

export interface BashExecResult {
  /** Null when the process was killed by a signal. */
  exitCode: number | null;
  signalCode?: string;
  timedOut: boolean;
  aborted: boolean;
  /** After a timeout or cancel: what the sweep for escaped processes killed and what survived. */
  sweep?: SweepResult;
}

/** How a command is run: real processes by default, a fake in tests or a sandbox elsewhere. */
export interface BashOperations {
  exec(command: string, opts: BashExecOptions): Promise<BashExecResult>;
}

export interface BashToolOptions {
  /** Default per-command timeout; 120 s. */
  timeoutMs?: number;
  /** The most a call may ask for with its `timeout` argument; 600 s. */
  maxTimeoutMs?: number;
  /** Output kept (head plus tail); 30 KB. */
  maxOutputBytes?: number;
  /** The environment the allow-list is taken from; default process.env. */
  env?: Record<string, string | undefined>;
  /** Time between SIGTERM and SIGKILL; 2 s. */
  killGraceMs?: number;
  operations?: BashOperations;
}

export const DEFAULT_BASH_TIMEOUT_MS = 120_000;
export const MAX_BASH_TIMEOUT_MS = 600_000;
/**
 * What bash keeps in memory of a command's output (head and tail): a bound
 * on memory, not what the model reads. Dispatch caps every tool's result
 * to what the model reads (30 KB by default), once, for all tools.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
const DEFAULT_KILL_GRACE_MS = 2_000;
/** How long to keep reading after the shell exits, for output still in the pipes. */
const DRAIN_MS = 200;

/** Environment variables a command inherits; everything else in the daemon's environment stays out. */
export const ENV_ALLOW_LIST = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_CTYPE",
  "LC_MESSAGES",
  "TERM",
  "TMPDIR",
  "TZ",
] as const;
const FALLBACK_PATH = "/usr/local/bin:/usr/bin:/bin";

export function createBashTool(cwd: string, opts: BashToolOptions = {}): Tool {
  const defaultTimeoutMs = opts.timeoutMs ?? DEFAULT_BASH_TIMEOUT_MS;
  const maxTimeoutMs = Math.max(opts.maxTimeoutMs ?? MAX_BASH_TIMEOUT_MS, defaultTimeoutMs);
  const maxOutputBytes = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const ops = opts.operations ?? processOperations(opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  const env = allowedEnv(opts.env ?? process.env, cwd);
  const maxTimeoutSeconds = Math.floor(maxTimeoutMs / 1000);

  return {
    name: "bash",
    description:
      `Run a shell command with sh -c in the working directory (${cwd}) and return its combined stdout and stderr and its exit code. ` +
      `Times out after ${Math.round(defaultTimeoutMs / 1000)} s unless timeout (seconds, at most ${maxTimeoutSeconds}) is given; on timeout every process the command started is killed. ` +
      `Output over ${Math.round(maxOutputBytes / 1024)} KB is cut in the middle, keeping the start and the end. ` +
      `There is no terminal and no stdin: avoid interactive commands.`,
    parameters: {
      type: "object",
      properties: {
        command: { type: "string", minLength: 1, description: "The command line, run by sh -c." },
        timeout: {
          type: "integer",
          minimum: 1,
          maximum: Math.max(1, maxTimeoutSeconds),
          description: `Timeout in seconds. Default ${Math.round(defaultTimeoutMs / 1000)}.`,
        },
      },
      required: ["command"],
      additionalProperties: false,
    },
    async execute(args, ctx) {
      const command = String(args.command);
      const timeoutMs =
        typeof args.timeout === "number" ? Math.min(args.timeout * 1000, maxTimeoutMs) : defaultTimeoutMs;
      const output = new CappedOutput(maxOutputBytes);
      let result: BashExecResult;
      try {
        result = await ops.exec(command, { cwd, env, timeoutMs, signal: ctx.signal, onData: (c) => output.push(c) });
      } catch (err) {
        if (isErrno(err, "ENOENT")) return failure(`cannot run the command: working directory ${cwd} does not exist`);
        throw err;
      }
      const text = output.text() || "(no output)";
      const body = text.endsWith("\n") ? text : `${text}\n`;
      const killed = sweepNote(result.sweep ?? { escapedKilled: [], survived: [] });
      if (result.aborted) return failure(`${body}[cancelled; ${killed}]`);
      if (result.timedOut) return failure(`${body}[timed out after ${timeoutMs / 1000} s; ${killed}]`);
      if (result.exitCode === null) return failure(`${body}[killed by ${result.signalCode ?? "a signal"}]`);
      const footer = `[exit code ${result.exitCode}]`;
      return result.exitCode === 0 ? { output: body + footer } : failure(body + footer);
    },
  };
}

/** The allow-listed environment, with a usable PATH and PWD even when the daemon's lacks them. */
export function allowedEnv(source: Record<string, string | undefined>, cwd: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ENV_ALLOW_LIST) {
    const v = source[key];
    if (v !== undefined) env[key] = v;
  }
  env.PATH ??= FALLBACK_PATH;
  env.TERM ??= "dumb";
  env.PWD = cwd;
  return env;
}

/** Real processes: `sh -c` in a new session (setsid), killed as a group. */
export function processOperations(killGraceMs: number): BashOperations {
  return {
    async exec(command, { cwd, env, timeoutMs, signal, onData }): Promise<BashExecResult> {
      if (signal.aborted) return { exitCode: null, timedOut: false, aborted: true };
      const tag = newTag();
      const proc = Bun.spawn(["sh", "-c", command], {
        cwd,
        env: { ...env, [TAG_VAR]: tag },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        detached: true,
      });
      const pid = proc.pid;

      let timedOut = false;
      let aborted = false;
      let escalation: ReturnType<typeof setTimeout> | undefined;
      const killGroup = () => {
        if (escalation) return;
        signalGroup(pid, "SIGTERM");
        // Not cleared when the shell exits: a grandchild that ignores SIGTERM still gets SIGKILL.
        escalation = setTimeout(() => signalGroup(pid, "SIGKILL"), killGraceMs);
        escalation.unref();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, timeoutMs);
      const onAbort = () => {
        aborted = true;
        killGroup();
      };
      signal.addEventListener("abort", onAbort, { once: true });

      const readers = [pump(proc.stdout, onData), pump(proc.stderr, onData)];
      try {
        await proc.exited;
      } finally {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      }
      // The group is signalled; now what left it. Before draining: an escaped child may hold the pipes.
      const sweep = timedOut || aborted ? await sweepTagged(tag, pid, killGraceMs) : undefined;
      // Background children may hold the pipes open forever; give the pipes a moment, then stop reading.
      const drained = Promise.all(readers.map((r) => r.done));
      const gaveUp = await Promise.race([drained.then(() => false), Bun.sleep(DRAIN_MS).then(() => true)]);
      if (gaveUp) for (const r of readers) r.cancel();

      return {
        exitCode: proc.signalCode ? null : proc.exitCode,
        ...(proc.signalCode ? { signalCode: String(proc.signalCode) } : {}),
        timedOut,
        aborted,
        ...(sweep ? { sweep } : {}),
      };
    },
  };
}

function pump(
  stream: ReadableStream<Uint8Array>,
  onData: (chunk: Uint8Array) => void,
): { done: Promise<void>; cancel(): void } {
  const reader = stream.getReader();
  let cancelled = false;
  const done = (async () => {
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end || cancelled) return;
        onData(value);
      }
    } catch {
      // A cancelled or broken pipe ends the output; the exit status says what happened.
    }
  })();
  return {
    done,
    cancel: () => {
      cancelled = true;
      void reader.cancel().catch(() => undefined);
    },
  };
}

/** Signals the whole process group; a group that is already gone is fine. */
function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: every process of the group has exited.
  }
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && "code" in err && err.code === code;
}
