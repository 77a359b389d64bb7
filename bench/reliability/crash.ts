/**
 * Crashes: kill -9 at random points while a few clients run turns (50 in
 * the full run, about 10 in the short one), restarting the daemon each
 * time. After every restart each session a client saw start is listed and
 * loads, and every turn whose StreamEnd (stop) a client received has its
 * user message and its full answer in the session's history: what a client
 * saw finish is never lost. A last turn on every session proves they still
 * work.
 */
import { rmSync } from "node:fs";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { tempHome, type DaemonHandle } from "../../test/helpers/daemon.ts";
import { FakeProvider, sseReply } from "../../test/helpers/fake-provider.ts";
import { openaiSse } from "../../test/helpers/sse-builders.ts";
import { lastUserText } from "../../test/helpers/turn-kit.ts";
import { reliabilityConfig, runTurn, startQuietDaemon, type Row, type ScenarioOptions } from "./common.ts";

const WORKERS = 3;
/** The answer the fake model gives to a prompt, so history can be checked word for word. */
const answerTo = (prompt: string): string => `answer to ${prompt}: ${"lorem ipsum ".repeat(8).trim()}`;

interface Completed {
  session: number;
  prompt: string;
}

/** A tiny seeded PRNG so a failing run can be replayed with RELIABILITY_SEED. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export async function crashScenario(opts: ScenarioOptions): Promise<Row[]> {
  const target = opts.short ? 10 : 50;
  const seed = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000);
  const random = prng(seed);
  const home = tempHome("crabtalk-rel-crash-");
  await using fake = await FakeProvider.start();
  fake.route((req) => {
    const prompt = lastUserText(req);
    // 24 deltas 10 ms apart: a kill lands before, during or after the stream.
    return sseReply(openaiSse({ model: "fake-model", text: answerTo(prompt), textDeltas: 24 }), {
      chunkSizes: [160],
      chunkDelayMs: 10,
    });
  });
  const config = reliabilityConfig(fake.url);

  const completed: Completed[] = [];
  const seen = new Set<number>();
  const problems: string[] = [];
  let started = 0;
  let kills = 0;
  let killedMidTurn = 0;
  let killedOnEnd = 0;
  let checkedHistories = 0;
  const workerSession: (number | undefined)[] = Array.from({ length: WORKERS }, () => undefined);
  let d: DaemonHandle | undefined;
  try {
    for (let round = 0; started < target; round++) {
      d = await startQuietDaemon({ home, config });
      await verify(d, seen, completed, problems);
      checkedHistories += seen.size;
      const clients: CrabtalkClient[] = [];
      let stop = false;
      let inFlight = 0;
      const killOnEnd = round % 2 === 1;
      const workers = Array.from({ length: WORKERS }, async (_, w) => {
        const c = await d!.client();
        clients.push(c);
        // At most two turns per worker and round, so kills are many and land anywhere in a turn.
        for (let n = 0; n < 2 && !stop && started < target; n++) {
          const prompt = `r${round} w${w} n${started}`;
          started++;
          inFlight++;
          const out = await runTurn(c, { content: prompt, session: workerSession[w] }, 20_000, (e) => {
            // The worst moment for durability: the instant a client learns a turn finished.
            if (e.end && killOnEnd && !stop) {
              stop = true;
              d!.proc.kill("SIGKILL");
            }
          });
          inFlight--;
          if (out.session !== undefined) {
            seen.add(out.session);
            workerSession[w] = out.session;
          }
          if (out.end?.stopReason === "stop") {
            if (out.text !== answerTo(prompt)) problems.push(`turn "${prompt}" streamed "${out.text.slice(0, 60)}"`);
            completed.push({ session: out.session!, prompt });
          } else break; // the daemon died under this turn
        }
      });
      // Odd rounds kill the moment a client sees a StreamEnd; even ones at a random point (before the first turn, mid-stream, between turns).
      const killAt = performance.now() + (killOnEnd ? 5000 : Math.floor(random() * 600));
      while (!stop && performance.now() < killAt) await Bun.sleep(5);
      if (!stop && inFlight > 0) killedMidTurn++;
      if (killOnEnd && stop) killedOnEnd++;
      stop = true;
      await d.kill9();
      kills++;
      for (const c of clients) c.close();
      await Promise.all(workers);
    }
    d = await startQuietDaemon({ home, config });
    await verify(d, seen, completed, problems);
    checkedHistories += seen.size;
    // Every session still takes a turn.
    const c = await d.client();
    let usable = 0;
    for (const id of seen) {
      const out = await runTurn(c, { content: `after the crashes ${id}`, session: id }, 20_000);
      if (out.end?.stopReason === "stop" && out.text === answerTo(`after the crashes ${id}`)) usable++;
      else problems.push(`session ${id} after the crashes: ${out.error?.message ?? out.hung ?? out.end?.stopReason}`);
    }
    c.close();
    opts.log(
      `seed ${seed}: ${kills} kills (${killedMidTurn} mid-turn, ${killedOnEnd} as a StreamEnd arrived), ${started} turns started, ${completed.length} completed, ${seen.size} sessions`,
    );
    for (const p of problems.slice(0, 10)) opts.log(`problem: ${p}`);
    const lost = problems.filter((p) => p.startsWith("lost")).length;
    return [
      {
        scenario: "crash",
        check: "kill -9 at random points",
        figure: `${kills} kills (${killedMidTurn} mid-turn, ${killedOnEnd} at a StreamEnd) over ${started} turns, seed ${seed}`,
        pass: started >= target && kills > 0,
      },
      {
        scenario: "crash",
        check: "sessions listed and loaded after each restart",
        figure: `${checkedHistories} loads of ${seen.size} sessions, ${problems.filter((p) => p.startsWith("session")).length} failed`,
        pass: !problems.some((p) => p.startsWith("session") && !p.includes("after the crashes")),
      },
      {
        scenario: "crash",
        check: "completed turns still in history",
        figure: `${completed.length} completed, ${lost} lost`,
        pass: lost === 0 && completed.length > 0,
      },
      {
        scenario: "crash",
        check: "every session usable after the last restart",
        figure: `${usable}/${seen.size}`,
        pass: usable === seen.size,
      },
    ];
  } finally {
    await d?.cleanup();
    rmSync(home, { recursive: true, force: true });
  }
}

/** Lists and loads every session seen; records a "lost" problem per completed turn missing from history. */
async function verify(d: DaemonHandle, seen: Set<number>, completed: Completed[], problems: string[]): Promise<void> {
  const c = await d.client();
  try {
    const list = (await c.request({ sessions: { limit: 1000 } })).sessions!;
    const listed = new Set(list.sessions.map((s) => Number(s.id)));
    const histories = new Map<number, { role: string; content: string }[]>();
    for (const id of seen) {
      if (!listed.has(id)) problems.push(`session ${id} not listed`);
      try {
        histories.set(id, (await c.request({ getHistory: { session: id } })).history!.messages);
      } catch (err) {
        problems.push(`session ${id} does not load: ${(err as Error).message}`);
      }
    }
    for (const t of completed) {
      const h = histories.get(t.session);
      if (!h) continue;
      const at = h.findIndex((m) => m.role === "user" && m.content === t.prompt);
      const answer = at >= 0 ? h[at + 1] : undefined;
      if (at < 0 || answer?.role !== "assistant" || answer.content !== answerTo(t.prompt)) {
        const line = `lost: turn "${t.prompt}" of session ${t.session} (${at < 0 ? "user message" : "answer"} missing)`;
        if (!problems.includes(line)) problems.push(line);
      }
    }
  } finally {
    c.close();
  }
}
