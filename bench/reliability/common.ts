/**
 * Shared pieces of the reliability suite (bench/reliability.ts): the row
 * every scenario reports, the daemon config pointing agent `crab` at the
 * fake provider, /proc readings of the daemon (RSS, peak RSS, open fds), and
 * a turn runner that never waits past its deadline, so a hung turn is a
 * failed check instead of a hung suite.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { DaemonError } from "../../src/client/errors.ts";
import type { StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { startDaemon, type DaemonHandle, type StartOptions } from "../../test/helpers/daemon.ts";

export interface Row {
  scenario: string;
  check: string;
  figure: string;
  pass: boolean;
}

export interface ScenarioOptions {
  short: boolean;
  log(line: string): void;
}

export type Scenario = (opts: ScenarioOptions) => Promise<Row[]>;

export interface ConfigOptions {
  /** Extra keys under [provider.fake] (timeouts, retries). */
  provider?: string;
  /** Extra keys under [daemon]. */
  daemon?: string;
}

/** A daemon on the Unix socket only, agent `crab` on the fake provider. */
export function reliabilityConfig(fakeUrl: string, opts: ConfigOptions = {}): string {
  return `[daemon]
tcp = false
${opts.daemon ?? ""}

[provider.fake]
kind = "openai"
base_url = "${fakeUrl}/v1"
models = ["fake-model"]
${opts.provider ?? ""}

[agents.crab]
model = "fake-model"
`;
}

const started: DaemonHandle[] = [];

/** The compiled daemon with warn-level logs (the suite's bad input would otherwise log a line per frame). */
export async function startQuietDaemon(options: StartOptions): Promise<DaemonHandle> {
  const d = await startDaemon({ ...options, args: ["--log-level", "warn", ...(options.args ?? [])] });
  started.push(d);
  return d;
}

/** Kills every daemon this suite started that still runs: a scenario cut off by its deadline skips its own cleanup. */
export function killLeftoverDaemons(): number {
  let n = 0;
  for (const d of started) {
    if (!alive(d)) continue;
    d.proc.kill("SIGKILL");
    n++;
  }
  return n;
}

/** One field of /proc/PID/status, in kB. */
export function statusKb(pid: number, field: "VmRSS" | "VmHWM" | "RssAnon"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

export const rssMb = (pid: number): number => statusKb(pid, "VmRSS") / 1024;
/** Peak resident memory since the process started (the kernel's high-water mark). */
export const hwmMb = (pid: number): number => statusKb(pid, "VmHWM") / 1024;
/**
 * Open descriptors by kind: session files (`<home>/sessions/N.jsonl`, the store's append handles, kept open up
 * to MAX_APPEND_HANDLES by design) and all others.
 */
export function fdKinds(pid: number, home: string): { sessionFiles: number; other: number } {
  const sessions = `${home}/sessions/`;
  let sessionFiles = 0;
  let other = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = "";
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed since the listing
    }
    if (target.startsWith(sessions) && target.endsWith(".jsonl")) sessionFiles++;
    else other++;
  }
  return { sessionFiles, other };
}

export function alive(d: DaemonHandle): boolean {
  return d.proc.exitCode === null && d.proc.signalCode === null;
}

/** Samples RSS every `everyMs` until stopped; resolves with the peak seen. */
export function rssSampler(pid: number, everyMs = 50): { stop(): Promise<number> } {
  let peak = 0;
  let on = true;
  const loop = (async () => {
    while (on) {
      try {
        peak = Math.max(peak, rssMb(pid));
      } catch {
        return;
      }
      await Bun.sleep(everyMs);
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      return peak;
    },
  };
}

export interface TurnOutcome {
  events: StreamEvent[];
  text: string;
  end?: NonNullable<StreamEvent["end"]>;
  /** ErrorMsg code and message, when the daemon answered one. */
  error?: { code: number; message: string };
  /** Set when the turn was still open at its deadline, or the connection broke. */
  hung?: string;
  session?: number;
  ms: number;
}

/** Runs one StreamMsg to its end, ErrorMsg, disconnect or deadline, whichever comes first. */
export async function runTurn(
  client: CrabtalkClient,
  req: { content: string; session?: number },
  deadlineMs: number,
  onEvent?: (e: StreamEvent) => void,
): Promise<TurnOutcome> {
  const t0 = performance.now();
  const out: TurnOutcome = { events: [], text: "", ms: 0 };
  const it = client
    .stream({ stream: { agent: "crab", content: req.content, session: req.session } })
    [Symbol.asyncIterator]();
  const deadline = new Promise<"deadline">((r) => setTimeout(() => r("deadline"), deadlineMs));
  try {
    for (;;) {
      const next = await Promise.race([it.next(), deadline]);
      if (next === "deadline") {
        out.hung = `no end within ${deadlineMs} ms`;
        void it.return?.();
        break;
      }
      if (next.done) break;
      const e = next.value.stream;
      if (!e) continue;
      out.events.push(e);
      onEvent?.(e);
      if (e.start) out.session = Number(e.start.session);
      if (e.chunk) out.text += e.chunk.content;
      if (e.end) out.end = e.end;
    }
  } catch (err) {
    if (err instanceof DaemonError) out.error = { code: err.code, message: err.message };
    else out.hung = `connection failed: ${(err as Error).message}`;
  }
  out.ms = performance.now() - t0;
  return out;
}

/** Resolves with `work`, or rejects after `ms` naming `what`. */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)),
  );
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const mb = (x: number): string => `${x.toFixed(1)} MB`;

/** The median of a few readings taken `gapMs` apart: one reading of RSS is noisy. */
export async function settledRss(pid: number, samples = 5, gapMs = 100): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < samples; i++) {
    xs.push(rssMb(pid));
    await Bun.sleep(gapMs);
  }
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)]!;
}

/**
 * Pings on `client` every `everyMs` until stopped; stop() closes the client
 * and resolves with every ping's round trip in ms. A ping unanswered after
 * 10 s, or refused, counts as 10,000 ms: a daemon that stops serving shows
 * as a huge figure, never a hung suite.
 */
export async function pinger(
  client: CrabtalkClient,
  everyMs = 50,
): Promise<{ maxMs(): number; stop(): Promise<number[]> }> {
  const times: number[] = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      const t0 = performance.now();
      try {
        await within(10_000, "ping", client.request({ ping: {} }));
        times.push(performance.now() - t0);
      } catch {
        times.push(10_000);
      }
      await Bun.sleep(everyMs);
    }
  })();
  return {
    maxMs: () => Math.max(0, ...times),
    async stop() {
      on = false;
      await loop;
      client.close();
      return times;
    },
  };
}
