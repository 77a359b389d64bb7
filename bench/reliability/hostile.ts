/**
 * A hostile model (issue 11): rounds in which, all at once, one turn's
 * model writes to and reads from a FIFO, two turns' models ask for 400
 * bash calls in one reply, one turn's model sends a 17 MB tool argument,
 * and `crabtalk send` on a pseudo-terminal (util-linux `script`) prints
 * an answer full of terminal escape sequences (OSC 52, OSC 0, CSI 2J, C1
 * CSI). Throughout, a client pings the daemon and its RSS is sampled.
 * Checks: every turn ends (tool calls refused as results the model can act
 * on), pings stay answered, memory stays bounded and does not grow round
 * over round, no raw escape sequence reaches the terminal, and no turn runs
 * more than 8 tool processes at once (16 across the daemon).
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { binaryPath, tempHome } from "../../test/helpers/daemon.ts";
import { FakeProvider, sseReply, type RecordedRequest, type Reply } from "../../test/helpers/fake-provider.ts";
import { openaiSse } from "../../test/helpers/sse-builders.ts";
import { lastUserText, messagesOf } from "../../test/helpers/turn-kit.ts";
import { median } from "../stats.ts";
import {
  alive,
  mb,
  pinger,
  reliabilityConfig,
  rssMb,
  rssSampler,
  runTurn,
  settledRss,
  startQuietDaemon,
  type Row,
  type ScenarioOptions,
  type TurnOutcome,
} from "./common.ts";

/** A turn here ends in seconds on an idle machine (the 400-call one in about 1 s); 30 s means it never would. */
const TURN_DEADLINE_MS = 30_000;
/** What the model's answer holds, and how a terminal must show it. */
const EVIL = "start \x1b]52;c;cHduZWQ=\x07 title \x1b]0;pwned\x07 clear \x1b[2J c1 \u009b31m red end-of-evil";
const VISIBLE = "start ^[]52;c;cHduZWQ=^G title ^[]0;pwned^G clear ^[[2J c1 ^[[31m red end-of-evil";
const HUGE_CHARS = 17 * 1024 * 1024;
/** The daemon's limits under attack (src/agent/loop.ts, src/session/settings.ts). */
const PER_REPLY = 32;
const PER_TURN_AT_ONCE = 8;
const PER_DAEMON_AT_ONCE = 16;
/**
 * Bounds: pings within 1 s even while a 17 MB argument is parsed beside
 * two 32-process turns on a loaded 2-core machine (an event loop blocked
 * by a FIFO open or an unbounded parse is seconds or forever); peak RSS
 * under 1 GB (17 MB arrives as SSE, is parsed once, and is dropped);
 * growth from the early rounds to the late ones under 100 MB (a leak of
 * the 17 MB argument per round passes that within the full run's six).
 */
const PING_BOUND_MS = 1000;
const RSS_BOUND_MB = 1024;
const GROWTH_BOUND_MB = 100;

const reply = (turn: Parameters<typeof openaiSse>[0]): Reply => sseReply(openaiSse({ model: "fake-model", ...turn }));

/** Each call appends "start T" and "end T" to one log, so the overlap per turn and overall can be read after. */
const callCommand = (turn: string, i: number) =>
  `echo 'start ${turn}' >> calls.log; sleep 0.2; echo 'end ${turn}' >> calls.log; echo call-${i}`;

/** The model: the prompt's first word picks the attack; once tool results come back it answers plainly. */
function hostileModel(req: RecordedRequest, seen: { hugeFollowUpBytes: number[] }): Reply {
  const prompt = lastUserText(req);
  const [kind, tag] = prompt.split(" ");
  if (messagesOf(req).at(-1)?.role === "tool") {
    if (kind === "huge") seen.hugeFollowUpBytes.push(req.rawBody.length);
    return reply({ text: `done ${prompt}` });
  }
  if (kind === "fifo")
    return reply({
      toolCalls: [
        { id: "call_w1", name: "write", args: { path: `trap-${tag}.fifo`, content: "one" } },
        { id: "call_w2", name: "write", args: { path: `trap-${tag}.fifo`, content: "two" } },
        { id: "call_r", name: "read", args: { path: `trap-${tag}.fifo` } },
      ],
    });
  if (kind === "calls")
    return reply({
      toolCalls: Array.from({ length: 400 }, (_, i) => ({
        id: `call_${i}`,
        name: "bash",
        args: { command: callCommand(tag!, i) },
      })),
    });
  if (kind === "huge")
    return reply({
      toolCalls: [{ id: "call_huge", name: "write", args: { path: "big.txt", content: "y".repeat(HUGE_CHARS) } }],
    });
  if (kind === "evil") return reply({ thinking: "pondering \x1b]0;thought\x07 done", text: EVIL, textDeltas: 7 });
  return reply({ text: `plain ${prompt}` });
}

/** `crabtalk send` on a pseudo-terminal; every byte it wrote there. */
async function sendOnPty(home: string, prompt: string, color: boolean): Promise<{ code: number; raw: string }> {
  const cmd = [binaryPath(), "send", prompt].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const proc = Bun.spawn(["script", "-qec", cmd, "/dev/null"], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      CRABTALK_HOME: home,
      TERM: "xterm-256color",
      ...(color ? { FORCE_COLOR: "1" } : { NO_COLOR: "1" }),
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [raw, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, raw: raw + err };
}

/** Whether raw terminal bytes are clean: the renderer's SGR styling is the only escape left, and the text is visible. */
function terminalClean(raw: string): boolean {
  const unstyled = raw.replace(/\x1b\[[0-9;]*m/g, "");
  return !unstyled.includes("\x1b") && !raw.includes("\u009b") && !raw.includes("\x07") && raw.includes(VISIBLE);
}

/** The lowest of five RSS readings over a second: what the daemon holds, less garbage that is about to go. */
async function lowestRss(pid: number): Promise<number> {
  let low = Infinity;
  for (let i = 0; i < 5; i++, await Bun.sleep(200)) low = Math.min(low, rssMb(pid));
  return low;
}

/** Peak overlap of tool processes per turn and overall, from calls.log. */
function overlap(log: string): { perTurn: number; overall: number } {
  const running = new Map<string, number>();
  let all = 0;
  let perTurn = 0;
  let overall = 0;
  for (const line of log.trim().split("\n")) {
    const [what, turn] = line.split(" ");
    const d = what === "start" ? 1 : -1;
    const n = (running.get(turn!) ?? 0) + d;
    running.set(turn!, n);
    all += d;
    perTurn = Math.max(perTurn, n);
    overall = Math.max(overall, all);
  }
  return { perTurn, overall };
}

const ended = (o: TurnOutcome) => !o.hung && !o.error && o.end?.stopReason === "stop";
const toolResults = (o: TurnOutcome) => o.events.filter((e) => e.toolResult).map((e) => e.toolResult!);

export async function hostileScenario(opts: ScenarioOptions): Promise<Row[]> {
  const rounds = opts.short ? 2 : 6;
  const seen = { hugeFollowUpBytes: [] as number[] };
  await using fake = await FakeProvider.start();
  fake.route((req) => hostileModel(req, seen));
  const home = tempHome("crabtalk-rel-hostile-");
  const work = join(home, "work");
  mkdirSync(work, { recursive: true });
  await using d = await startQuietDaemon({ home, config: reliabilityConfig(fake.url) });
  const pid = d.proc.pid;
  try {
    const idle = await settledRss(pid);
    const sampler = rssSampler(pid, 25);
    const pings = await pinger(await d.client(), 50);
    const tally = { turns: 0, ended: 0, fifoRefused: 0, fifoMaxMs: 0, ran: 0, batched: 0, huge: 0, pty: 0, clean: 0 };
    const afterRound: number[] = [];
    let sample = "";
    for (let r = 0; r < rounds; r++) {
      for (const f of [`trap-${r}.fifo`]) Bun.spawnSync(["mkfifo", join(work, f)]);
      const c = await d.client();
      const turn = (content: string) => runTurn(c, { content }, TURN_DEADLINE_MS);
      const [fifo, callsA, callsB, huge, pty] = await Promise.all([
        turn(`fifo ${r}`),
        turn(`calls ${r}a`),
        turn(`calls ${r}b`),
        turn(`huge ${r}`),
        sendOnPty(home, `evil ${r}`, r % 2 === 1),
      ]);
      c.close();
      const turns = [fifo, callsA, callsB, huge];
      tally.turns += turns.length;
      tally.ended += turns.filter(ended).length;
      const fifoResults = toolResults(fifo);
      if (fifoResults.length === 3 && fifoResults.every((t) => t.isError && t.output.includes("is a named pipe")))
        tally.fifoRefused++;
      tally.fifoMaxMs = Math.max(tally.fifoMaxMs, fifo.ms);
      for (const calls of [callsA, callsB]) {
        const results = toolResults(calls);
        tally.ran += results.filter((t) => !t.isError).length;
        tally.batched += results.filter(
          (t) => t.isError && t.output.includes(`at most ${PER_REPLY} run per reply`),
        ).length;
      }
      const hugeResult = toolResults(huge)[0];
      if (hugeResult?.isError && /over the limit of 1048576/.test(hugeResult.output)) tally.huge++;
      tally.pty++;
      if (pty.code === 0 && terminalClean(pty.raw)) tally.clean++;
      else sample ||= `send exited ${pty.code}: ${JSON.stringify(pty.raw.slice(0, 200))}`;
      for (const o of turns.filter((t) => !ended(t)))
        sample ||= `${o.error?.message ?? o.hung ?? o.end?.stopReason} after ${o.ms.toFixed(0)} ms`;
      afterRound.push(await lowestRss(pid));
      opts.log(
        `round ${r + 1}: turns ${turns.map((t) => `${(t.ms / 1000).toFixed(1)}s`).join(" ")}, pty ${pty.code}; RSS ${mb(afterRound.at(-1)!)}; pings max ${pings.maxMs().toFixed(0)} ms`,
      );
    }
    const pingTimes = await pings.stop();
    const peak = await sampler.stop();
    const calls = overlap(readFileSync(join(work, "calls.log"), "utf8"));
    // A leak lifts every later reading; garbage not yet collected lifts one now and then. Lowest against lowest.
    const half = Math.ceil(afterRound.length / 2);
    const growth = Math.min(...afterRound.slice(afterRound.length - half)) - Math.min(...afterRound.slice(0, half));
    const hugeNext = Math.max(...seen.hugeFollowUpBytes);
    if (sample) opts.log(`e.g. ${sample}`);
    const sorted = [...pingTimes].sort((a, b) => a - b);
    const pingMax = sorted.at(-1) ?? Infinity;
    const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? Infinity;
    return [
      {
        scenario: "hostile",
        check: "every hostile turn ends normally",
        figure: `${tally.ended}/${tally.turns} in ${rounds} rounds (FIFO, 2 x 400 calls, 17 MB argument at once)`,
        pass: tally.ended === tally.turns && alive(d),
      },
      {
        scenario: "hostile",
        check: "FIFO write/write/read refused as results",
        figure: `${tally.fifoRefused}/${rounds} turns, slowest ${(tally.fifoMaxMs / 1000).toFixed(1)} s`,
        pass: tally.fifoRefused === rounds,
      },
      {
        scenario: "hostile",
        check: `400-call replies: ${PER_REPLY} run, rest batched`,
        figure: `${tally.ran} ran, ${tally.batched} told to batch (of ${rounds * 2 * 400})`,
        pass: tally.ran === rounds * 2 * PER_REPLY && tally.batched === rounds * 2 * (400 - PER_REPLY),
      },
      {
        scenario: "hostile",
        check: `tool processes at once: <= ${PER_TURN_AT_ONCE}/turn, <= ${PER_DAEMON_AT_ONCE}/daemon`,
        figure: `peak ${calls.perTurn} in one turn, ${calls.overall} overall`,
        pass: calls.perTurn <= PER_TURN_AT_ONCE && calls.perTurn > 1 && calls.overall <= PER_DAEMON_AT_ONCE,
      },
      {
        scenario: "hostile",
        check: "17 MB argument refused, not sent back",
        figure: `${tally.huge}/${rounds} refused; next model request ${(hugeNext / 1024).toFixed(0)} KB at most`,
        pass: tally.huge === rounds && hugeNext < 1024 * 1024,
      },
      {
        scenario: "hostile",
        check: "no raw escape sequence on the terminal (send, pty)",
        figure: `${tally.clean}/${tally.pty} clean (colour on and off)`,
        pass: tally.clean === tally.pty,
      },
      {
        scenario: "hostile",
        check: `pings answered within ${PING_BOUND_MS} ms throughout`,
        figure: `${pingTimes.length} pings: median ${median(pingTimes).toFixed(1)} ms, p99 ${p99.toFixed(0)} ms, max ${pingMax.toFixed(0)} ms`,
        pass: pingTimes.length > 0 && pingMax <= PING_BOUND_MS,
      },
      {
        scenario: "hostile",
        check: `RSS bounded: peak < ${RSS_BOUND_MB} MB, < +${GROWTH_BOUND_MB} MB early to late rounds`,
        figure: `peak ${mb(peak)}, idle ${mb(idle)}; after rounds ${afterRound.map((x) => x.toFixed(0)).join(", ")} MB (${growth >= 0 ? "+" : ""}${growth.toFixed(0)})`,
        pass: peak < RSS_BOUND_MB && growth < GROWTH_BOUND_MB,
      },
    ];
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
