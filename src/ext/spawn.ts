/**
 * Starting one service process: allow-listed environment, output to its
 * own rotated log, and no orphans.
 *
 * No orphans: on Linux the child is started through util-linux
 * `setpriv --pdeathsig KILL`, which sets PR_SET_PDEATHSIG and then execs the
 * service (same pid), so the kernel kills it when the daemon dies in any
 * way, SIGKILL included. Bun has no pre-exec hook to call prctl itself.
 * Without setpriv (another OS, a minimal image) the service is started
 * directly and the daemon says so once in its log: an orderly stop still
 * ends every child, a SIGKILL of the daemon would not.
 */
import { existsSync } from "node:fs";
import type { Subprocess } from "bun";
import { RotatingFile } from "../util/rotating-file.ts";
import { redact } from "../util/redact.ts";

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => process.platform === "linux" && existsSync(p));

/** Whether children die with the daemon even when it is SIGKILLed. */
export const ORPHAN_PROOF: { ok: boolean; why: string } = SETPRIV
  ? { ok: true, why: `${SETPRIV} --pdeathsig KILL` }
  : {
      ok: false,
      why: "setpriv (util-linux) is not installed: services are stopped on an orderly shutdown, but would outlive a SIGKILLed daemon",
    };

/** Lines of a service's output kept in memory for its status when it fails. */
const TAIL_LINES = 20;

export interface SpawnSpec {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  logMaxBytes: number;
  secrets: () => readonly string[];
}

export interface ServiceProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  pid: number;
  /** Resolves with the exit code (-1 when killed by a signal) once the process exited and its output is logged. */
  exited: Promise<{ code: number; signal: string | null }>;
  /** The last lines it wrote. */
  tail(): string[];
}

/** Appends daemon-side lines (spawned, exited, why it failed) to the service's log. */
export function serviceLog(file: string, maxBytes: number): (line: string) => void {
  const out = new RotatingFile(file, maxBytes);
  return (line) => {
    try {
      out.append(`${new Date().toISOString()} ${line}`);
    } catch {
      // A full disk must not take the daemon down.
    }
  };
}

export function spawnService(spec: SpawnSpec, log: (line: string) => void): ServiceProcess {
  const argv = SETPRIV ? [SETPRIV, "--pdeathsig", "KILL", "--", ...spec.argv] : spec.argv;
  const proc = Bun.spawn(argv, {
    env: spec.env,
    cwd: spec.cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const tail: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>, tag: string) => {
    const decoder = new TextDecoder();
    let partial = "";
    const emit = (line: string) => {
      const clean = redact(line, spec.secrets());
      tail.push(clean);
      if (tail.length > TAIL_LINES) tail.shift();
      log(`${tag} ${clean}`);
    };
    try {
      for await (const chunk of stream) {
        partial += decoder.decode(chunk, { stream: true });
        const lines = partial.split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) emit(line);
        // A line without newline longer than 64 KiB is logged in pieces rather than held.
        if (partial.length > 65_536) {
          emit(partial);
          partial = "";
        }
      }
    } catch {
      // The pipe broke with the process; what was read is logged.
    }
    if (partial) emit(partial);
  };
  const pumps = Promise.all([pump(proc.stdout, "out"), pump(proc.stderr, "err")]);
  const exited = proc.exited.then(async (code) => {
    // A grandchild holding the pipes open must not hold the exit: give the output half a second.
    await Promise.race([pumps, Bun.sleep(500)]);
    return { code: proc.signalCode ? -1 : code, signal: proc.signalCode ? String(proc.signalCode) : null };
  });
  return { proc, pid: proc.pid, exited, tail: () => [...tail] };
}
