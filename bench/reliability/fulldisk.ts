/**
 * A full disk (issue 11 item 3): sessions/ is a small tmpfs that a filler
 * fills to ENOSPC and empties again, over and over, while three sessions
 * take turns back to back and a client pings. Every turn must either
 * succeed or end with 507 (never hang, never another error); the daemon
 * keeps answering; once space returns every session takes a turn and
 * loads, no JSONL line is torn, and a restarted daemon reports no crash.
 * Mounting a tmpfs needs root: otherwise the scenario reports one row
 * saying it was skipped and why.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { tempHome } from "../../test/helpers/daemon.ts";
import { FakeProvider, sseReply } from "../../test/helpers/fake-provider.ts";
import { openaiSse } from "../../test/helpers/sse-builders.ts";
import { lastUserText } from "../../test/helpers/turn-kit.ts";
import { median } from "../stats.ts";
import {
  alive,
  pinger,
  reliabilityConfig,
  runTurn,
  startQuietDaemon,
  within,
  type Row,
  type ScenarioOptions,
  type TurnOutcome,
} from "./common.ts";

const SESSIONS = 3;
/** Room for what a full run's sessions write (about 2 MB) many times over; dd fills the rest in milliseconds. */
const TMPFS = "16m";
/** Each answer is about 1 KB (a turn writes about 3 KB): more than the few bytes a full disk leaves. */
const answer = (prompt: string) => `${prompt}: ${"an answer that takes room ".repeat(40)}`;
/** A turn here ends in well under a second; 20 s means it never would. */
const TURN_DEADLINE_MS = 20_000;
/** Pings must be answered within this while writes fail around them (a blocked event loop is seconds). */
const PING_BOUND_MS = 1000;

type Outcome = "ok" | "507" | "other";

function classify(o: TurnOutcome): Outcome {
  if (!o.hung && !o.error && o.end?.stopReason === "stop") return "ok";
  const code = o.error?.code ?? (o.end?.stopReason === "error" ? o.end.errorCode : 0);
  return code === 507 ? "507" : "other";
}

/** Fills `dir` to ENOSPC, holds it full, empties it, holds it empty, until stopped; counts the cycles. */
function filler(dir: string, holdMs: number): { stop(): Promise<number> } {
  const file = join(dir, "filler");
  let on = true;
  let cycles = 0;
  const loop = (async () => {
    while (on) {
      // Async, so the bench's own pings are not held up while dd runs.
      await Bun.spawn(["sh", "-c", `dd if=/dev/zero of=${file} bs=4k 2>/dev/null; true`]).exited;
      cycles++;
      await Bun.sleep(holdMs);
      rmSync(file, { force: true });
      await Bun.sleep(holdMs);
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      rmSync(file, { force: true });
      return cycles;
    },
  };
}

/** Lines of the session files that do not parse as JSON, and files not ending in a newline. */
function tornLines(dir: string): string[] {
  const bad: string[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".jsonl"))) {
    const text = readFileSync(join(dir, f), "utf8");
    if (text.length > 0 && !text.endsWith("\n")) bad.push(`${f}: no final newline`);
    text
      .split("\n")
      .filter((l) => l.length > 0)
      .forEach((line, i) => {
        try {
          JSON.parse(line);
        } catch {
          bad.push(`${f}:${i + 1}`);
        }
      });
  }
  return bad;
}

async function historyLoads(c: CrabtalkClient, session: number): Promise<boolean> {
  const h = await within(10_000, `history of session ${session}`, c.request({ getHistory: { session } }));
  return (h.history?.messages.length ?? 0) >= 2;
}

export async function fulldiskScenario(opts: ScenarioOptions): Promise<Row[]> {
  const skip = (why: string): Row[] => [
    { scenario: "fulldisk", check: "full disk scenario", figure: `skipped: ${why}`, pass: true },
  ];
  if (process.getuid?.() !== 0) return skip("it mounts a tmpfs under sessions/, which needs root");
  const runMs = opts.short ? 3000 : 15_000;
  await using fake = await FakeProvider.start();
  fake.route((req) => sseReply(openaiSse({ model: "fake-model", text: answer(lastUserText(req)), textDeltas: 6 })));
  const home = tempHome("crabtalk-rel-fulldisk-");
  const sessions = join(home, "sessions");
  mkdirSync(sessions, { recursive: true, mode: 0o700 });
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS},mode=0700`, "tmpfs", sessions], {
    encoding: "utf8",
  });
  if (mount.status !== 0) {
    rmSync(home, { recursive: true, force: true });
    return skip(`mount -t tmpfs failed: ${(mount.stderr || String(mount.error)).trim().slice(0, 80)}`);
  }
  const config = reliabilityConfig(fake.url);
  try {
    const ids: number[] = [];
    const counts = { ok: 0, "507": 0, other: 0 } as Record<Outcome, number>;
    let sample507 = "";
    let sampleOther = "";
    let cycles = 0;
    let pingTimes: number[] = [];
    let servedAfter = { recovered: 0, alive: false };
    {
      await using d = await startQuietDaemon({ home, config });
      const pings = await pinger(await d.client(), 50);
      // The sessions start with space to spare; then the filler runs while they take turns until the time is up.
      const c0 = await d.client();
      for (let s = 0; s < SESSIONS; s++) {
        const out = await runTurn(c0, { content: `s${s} first` }, TURN_DEADLINE_MS);
        if (classify(out) !== "ok" || out.session === undefined) throw new Error(`session ${s} could not start`);
        ids.push(out.session);
      }
      c0.close();
      const fill = filler(sessions, 150);
      const until = performance.now() + runMs;
      await Promise.all(
        ids.slice().map(async (id, s) => {
          const c = await d.client();
          for (let i = 0; performance.now() < until; i++) {
            // Every fifth turn starts a new session: creating one on a full disk must fail the same way.
            const fresh = i % 5 === 4;
            const out = await runTurn(c, { content: `s${s} t${i}`, session: fresh ? undefined : id }, TURN_DEADLINE_MS);
            if (fresh && out.session !== undefined) ids.push(out.session);
            const kind = classify(out);
            counts[kind]++;
            const message = out.error?.message ?? out.end?.error ?? out.hung ?? "";
            if (kind === "507") sample507 ||= message;
            if (kind === "other") sampleOther ||= `${out.error?.code ?? out.end?.stopReason}: ${message}`;
            await Bun.sleep(50); // a failed turn takes a millisecond; without a pause this loop would only spin
          }
          c.close();
        }),
      );
      cycles = await fill.stop();
      pingTimes = await pings.stop();
      opts.log(`turns: ${counts.ok} ok, ${counts["507"]} 507, ${counts.other} other; ${cycles} fill cycles`);
      if (sample507) opts.log(`507: ${sample507.slice(0, 160)}`);
      if (sampleOther) opts.log(`other: ${sampleOther.slice(0, 160)}`);

      // Space is back: each session takes a turn and loads.
      const c = await d.client();
      let recovered = 0;
      for (const id of ids) {
        const out = await runTurn(c, { content: `${id} after`, session: id }, TURN_DEADLINE_MS);
        if (classify(out) === "ok" && (await historyLoads(c, id))) recovered++;
        else opts.log(`session ${id} after space returned: ${out.error?.message ?? out.end?.error ?? out.hung}`);
      }
      c.close();
      servedAfter = { recovered, alive: alive(d) };
      await d.stop();
    }
    // The daemon stopped (SIGTERM); no torn line on disk, and a new daemon loads every session.
    const torn = tornLines(sessions);
    const crashMarks = readdirSync(sessions).filter((f) => f.endsWith(".torn"));
    let reloaded = 0;
    let crashReported = false;
    {
      await using d = await startQuietDaemon({ home, config });
      const c = await d.client();
      for (const id of ids) if (await historyLoads(c, id)) reloaded++;
      c.close();
      crashReported = d.stderr().includes("left by a crash");
    }
    const total = counts.ok + counts["507"] + counts.other;
    const pingMax = Math.max(...pingTimes);
    return [
      {
        scenario: "fulldisk",
        check: "every turn succeeds or ends 507 (tmpfs filled over and over)",
        figure: `${counts.ok} ok + ${counts["507"]} 507 + ${counts.other} other of ${total}; ${cycles} fill cycles`,
        pass: counts.other === 0 && counts["507"] > 0 && counts.ok > 0,
      },
      {
        scenario: "fulldisk",
        check: "507 names the file and ENOSPC",
        figure: sample507 ? sample507.replace(home, "~").slice(0, 90) : "no 507 seen",
        pass: sample507.includes(sessions) && sample507.includes("ENOSPC"),
      },
      {
        scenario: "fulldisk",
        check: `daemon keeps serving: pings within ${PING_BOUND_MS} ms`,
        figure: `${pingTimes.length} pings: median ${median(pingTimes).toFixed(1)} ms, max ${pingMax.toFixed(0)} ms`,
        pass: pingTimes.length > 0 && pingMax <= PING_BOUND_MS && servedAfter.alive,
      },
      {
        scenario: "fulldisk",
        check: "space back: each session takes a turn and loads",
        figure: `${servedAfter.recovered}/${ids.length} sessions; after restart ${reloaded}/${ids.length} load`,
        pass: servedAfter.recovered === ids.length && reloaded === ids.length,
      },
      {
        scenario: "fulldisk",
        check: "no torn line, no crash reported on restart",
        figure: `${torn.length} torn lines${torn.length ? ` (${torn[0]})` : ""}, ${crashMarks.length} .torn files, crash warning: ${crashReported ? "yes" : "no"}`,
        pass: torn.length === 0 && crashMarks.length === 0 && !crashReported && existsSync(sessions),
      },
    ];
  } finally {
    spawnSync("umount", [sessions]);
    rmSync(home, { recursive: true, force: true });
  }
}
