/**
 * Soak: a bounded run (3 minutes full, 20 s short) of repeated turns by a
 * few workers that connect, run one or two turns on a pool of sessions,
 * sometimes hang up mid-stream, sometimes list or read history, and
 * disconnect, over and over. After a warm-up, RSS and open fds are read
 * with the workers paused and the daemon quiet; at the end they must be
 * within a stated margin of those first readings: RSS at most 10% + 8 MB
 * above (heap growth that settles is not a leak, steady growth across the
 * run is), fds at most 2 above (a leaked socket per connection would show
 * hundreds). Session files are counted apart: the store keeps the files it
 * appends to open, up to MAX_APPEND_HANDLES, and as retired sessions give
 * way to fresh ones their number climbs to that bound during the run (a
 * CI run that read 63 -> 82 fds in all fits ~46 session files at the
 * first reading and the bound at the end; two runs here held 17 other fds
 * and 64 session files at both); they must stay within it.
 *
 * Sessions rotate: each is retired (killed, so it leaves memory and stays
 * on disk) after RETIRE_AFTER turns and a fresh one takes its place. The
 * state the daemon should hold is then the same at every checkpoint, so
 * growth means a leak rather than conversations getting longer.
 */
import { rmSync } from "node:fs";
import { MAX_APPEND_HANDLES } from "../../src/store/append-handles.ts";
import { tempHome, type DaemonHandle } from "../../test/helpers/daemon.ts";
import { FakeProvider, sseReply } from "../../test/helpers/fake-provider.ts";
import { openaiSse } from "../../test/helpers/sse-builders.ts";
import { lastUserText } from "../../test/helpers/turn-kit.ts";
import {
  alive,
  fdKinds,
  mb,
  reliabilityConfig,
  runTurn,
  settledRss,
  startQuietDaemon,
  type Row,
  type ScenarioOptions,
} from "./common.ts";

const WORKERS = 4;
const POOL = 8;
const RETIRE_AFTER = 25;
const RSS_MARGIN = (start: number) => start * 0.1 + 8;
const FD_MARGIN = 2;

/** Open fds but session files, and session files apart (see the header). */
function fdsOf(pid: number, home: string): { fds: number; sessionFiles: number } {
  const { sessionFiles, other } = fdKinds(pid, home);
  return { fds: other, sessionFiles };
}

const answer = (prompt: string) => `ok ${prompt} ${"word ".repeat(20)}`;

async function quiet(d: DaemonHandle): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const c = await d.client();
    const s = await c.request({ status: {} });
    c.close();
    if (Number(s.status!.runningTurns) === 0) break;
    await Bun.sleep(100);
  }
  await Bun.sleep(500); // closed sockets leave the fd table
}

export async function soakScenario(opts: ScenarioOptions): Promise<Row[]> {
  const totalMs = opts.short ? 20_000 : 180_000;
  const warmMs = opts.short ? 6_000 : 30_000;
  const checkpoints = opts.short ? 1 : 4;
  await using fake = await FakeProvider.start();
  fake.route((req) =>
    sseReply(openaiSse({ model: "fake-model", text: answer(lastUserText(req)), textDeltas: 12 }), {
      chunkSizes: [300],
      chunkDelayMs: 3,
    }),
  );
  const home = tempHome("crabtalk-rel-soak-");
  await using d = await startQuietDaemon({ home, config: reliabilityConfig(fake.url) });
  const pid = d.proc.pid;
  const pool: number[] = [];
  const uses = new Map<number, number>();
  const inUse = new Map<number, number>();
  let turns = 0;
  let connects = 0;
  let hangups = 0;
  const failures: string[] = [];
  let paused = false;
  let running = 0;
  let stop = false;

  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      if (paused) {
        await Bun.sleep(20);
        continue;
      }
      running++;
      try {
        const c = await d.client();
        connects++;
        let session = pool.length >= POOL ? pool[(w * 7 + i) % pool.length] : undefined;
        // Retire only a session no other worker is running a turn on: a kill would cancel that turn.
        if (session !== undefined && (uses.get(session) ?? 0) >= RETIRE_AFTER && (inUse.get(session) ?? 0) === 0) {
          pool.splice(pool.indexOf(session), 1);
          uses.delete(session);
          await c.request({ kill: { session } }).catch(() => {});
          session = undefined;
        }
        if (session !== undefined) {
          uses.set(session, (uses.get(session) ?? 0) + 1);
          inUse.set(session, (inUse.get(session) ?? 0) + 1);
        }
        const held = session;
        // Hang-ups only on pooled sessions: a fresh session left mid-turn would never be retired.
        const hangUp = i % 5 === 3 && session !== undefined;
        const prompt = `w${w} i${i}`;
        if (hangUp) {
          // Hang up after the first delta: the turn runs on without a listener.
          const it = c.stream({ stream: { agent: "crab", content: prompt, session } })[Symbol.asyncIterator]();
          for (let r = await it.next(); !r.done && !r.value.stream?.chunk; r = await it.next());
          hangups++;
        } else {
          const out = await runTurn(c, { content: prompt, session }, 20_000);
          turns++;
          if (out.text !== answer(prompt))
            failures.push(`${prompt}: ${out.error?.message ?? out.hung ?? out.end?.stopReason}`);
          if (session === undefined && out.session !== undefined && pool.length < POOL) pool.push(out.session);
          if (i % 4 === 1 && out.session) await c.request({ getHistory: { session: out.session } });
          if (i % 4 === 2) await c.request({ sessions: {} });
        }
        c.close();
        if (held !== undefined) inUse.set(held, (inUse.get(held) ?? 1) - 1);
      } catch (err) {
        failures.push(`worker ${w}: ${(err as Error).message}`);
      } finally {
        running--;
      }
    }
  };

  const sample = async () => {
    paused = true;
    while (running > 0) await Bun.sleep(10);
    await quiet(d);
    const reading = { rss: await settledRss(pid, 5, 100), ...fdsOf(pid, home), atTurns: turns };
    paused = false;
    return reading;
  };

  try {
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    const t0 = Date.now();
    await Bun.sleep(warmMs);
    const start = await sample();
    opts.log(
      `after warm-up: RSS ${mb(start.rss)}, ${start.fds} fds + ${start.sessionFiles} session files, ${turns} turns`,
    );
    const readings = [start];
    for (let k = 1; k <= checkpoints; k++) {
      const at = t0 + warmMs + ((totalMs - warmMs) * k) / checkpoints;
      while (Date.now() < at) await Bun.sleep(100);
      if (k === checkpoints) stop = true;
      const r = await sample();
      readings.push(r);
      opts.log(`checkpoint ${k}: RSS ${mb(r.rss)}, ${r.fds} fds + ${r.sessionFiles} session files, ${turns} turns`);
    }
    stop = true;
    await Promise.all(workers);
    const end = readings.at(-1)!;
    const seconds = (Date.now() - t0) / 1000;
    for (const f of failures.slice(0, 5)) opts.log(`failure: ${f}`);
    return [
      {
        scenario: "soak",
        check: "repeated turns, connects, hang-ups",
        figure: `${turns} turns + ${hangups} hang-ups, ${connects} connects in ${seconds.toFixed(0)} s, ${failures.length} failed`,
        pass: failures.length === 0 && alive(d) && turns > 0,
      },
      {
        scenario: "soak",
        check: "RSS end vs after warm-up (margin 10% + 8 MB)",
        figure: `${readings.map((r) => r.rss.toFixed(1)).join(" -> ")} MB (+${(end.rss - start.rss).toFixed(1)}, margin ${RSS_MARGIN(start.rss).toFixed(1)})`,
        pass: end.rss - start.rss <= RSS_MARGIN(start.rss),
      },
      {
        scenario: "soak",
        check: `open fds but session files, end vs after warm-up (margin ${FD_MARGIN})`,
        figure: readings.map((r) => r.fds).join(" -> "),
        pass: end.fds - start.fds <= FD_MARGIN,
      },
      {
        scenario: "soak",
        check: `session files held open (at most ${MAX_APPEND_HANDLES})`,
        figure: readings.map((r) => r.sessionFiles).join(" -> "),
        pass: readings.every((r) => r.sessionFiles <= MAX_APPEND_HANDLES),
      },
    ];
  } finally {
    stop = true;
    rmSync(home, { recursive: true, force: true });
  }
}
