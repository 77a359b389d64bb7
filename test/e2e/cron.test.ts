/**
 * Cron against the compiled daemon with a scripted provider and real short
 * schedules: a job every second runs as sender cron:<id> and its session
 * grows; a slow run with overlap = skip records skips; quiet hours skip and
 * record; `once` removes the job from crons.toml; a bad entry is reported
 * with file, id and reason while the others run; stopping the daemon across
 * slots records `missed` (catch_up = none) or runs once late (catch_up = last),
 * and across ten restarts no slot runs twice.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { waitFor } from "../helpers/turn-kit.ts";

let fake: FakeProvider;
/** Replies slowly for requests whose last user message contains "slow". */
beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route((req) => {
    const text = JSON.stringify(req.body);
    const reply = sseReply(
      openaiSse({ model: "fake-model", text: "done" }),
      text.includes("slow-job") ? { chunkSizes: [8], chunkDelayMs: 400 } : {},
    );
    return reply;
  });
});
const homes: string[] = [];
afterAll(async () => {
  await fake.stop();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function config(): string {
  return `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`;
}

interface Rec {
  slot: number;
  outcome: string;
  reason?: string;
  status?: string;
  session?: number;
}
interface St {
  handled: number;
  session?: number;
  history: Rec[];
}
function state(home: string): Record<string, St> {
  try {
    return (JSON.parse(readFileSync(join(home, "cron-state.json"), "utf8")) as { jobs: Record<string, St> }).jobs;
  } catch {
    return {};
  }
}
const ran = (s: St | undefined) => (s?.history ?? []).filter((r) => r.outcome === "ran" && r.status === "ok");

function requestsWith(marker: string) {
  return fake.requests.filter((r) => r.rawBody.includes(marker));
}

describe("cron e2e", () => {
  test("a job every second runs as cron:<id>, its session grows; bad entries are reported, the rest run", async () => {
    const home = tempHome("crabtalk-cron-");
    homes.push(home);
    writeFileSync(
      join(home, "crons.toml"),
      `[[cron]]\nid = "tick"\nschedule = "@every 1s"\nagent = "crab"\nmessage = "tick-job ping"\n\n[[cron]]\nid = "broken"\nschedule = "61 * * * *"\nmessage = "x"\n\n[[cron]]\nid = "ghost"\nschedule = "@every 1s"\nagent = "nobody"\nmessage = "x"\n`,
    );
    await using d = await startDaemon({ home, config: config() });
    await waitFor(() => ran(state(home).tick).length >= 3, 15_000, "three runs of tick");
    const st = state(home).tick!;
    const sessions = new Set(ran(st).map((r) => r.session));
    expect(sessions.size).toBe(1);
    expect(st.session).toBe([...sessions][0]!);
    // The session grows: each run's request carries the previous runs' messages.
    const reqs = requestsWith("tick-job ping");
    const counts = reqs.map((r) => (r.body as { messages: unknown[] }).messages.length);
    expect(counts[2]!).toBeGreaterThan(counts[0]!);
    const c = await d.client();
    const list = await c.request({ sessions: {} });
    const info = list.sessions!.sessions.find((s) => s.id === st.session);
    expect(info?.createdBy).toBe("cron:tick");
    await waitFor(() => d.stderr().includes('cron "ghost"'), 5000, "the ghost entry's error");
    await d.waitLog(`${join(home, "crons.toml")}: cron "broken"`);
    await d.waitLog('agent "nobody" is not configured');
    expect(state(home).broken).toBeUndefined();
  }, 30_000);

  test("overlap = skip records skips; quiet hours skip and record; once removes the job", async () => {
    const home = tempHome("crabtalk-cron-");
    homes.push(home);
    writeFileSync(
      join(home, "crons.toml"),
      `[[cron]]\nid = "slow"\nschedule = "* * * * * *"\nmessage = "slow-job"\noverlap = "skip"\n\n[[cron]]\nid = "hush"\nschedule = "@every 1s"\nmessage = "hush-job"\ntimezone = "UTC"\nquiet_hours = "00:00-24:00"\n\n[[cron]]\nid = "one"\nschedule = "@every 1s"\nmessage = "once-job"\nonce = true\n`,
    );
    await using d = await startDaemon({ home, config: config() });
    await waitFor(
      () => (state(home).slow?.history ?? []).some((r) => r.outcome === "skipped" && r.reason === "overlap"),
      15_000,
      "an overlap skip",
    );
    await waitFor(
      () => (state(home).hush?.history ?? []).filter((r) => r.reason === "quiet hours").length >= 2,
      10_000,
      "quiet-hour skips",
    );
    expect(requestsWith("hush-job")).toHaveLength(0);
    await waitFor(() => !readFileSync(join(home, "crons.toml"), "utf8").includes('"one"'), 10_000, "once removed");
    expect(requestsWith("once-job")).toHaveLength(1);
    expect(readFileSync(join(home, "crons.toml"), "utf8")).toContain('"slow"');
    await d.waitLog("cron one: ran once; removed");
  }, 30_000);

  test("stopped across slots: catch_up = last runs once, none records missed; ten restarts never run a slot twice", async () => {
    const home = tempHome("crabtalk-cron-");
    homes.push(home);
    writeFileSync(
      join(home, "crons.toml"),
      `[[cron]]\nid = "late"\nschedule = "@every 1s"\nmessage = "late-job"\ncatch_up = "last"\n\n[[cron]]\nid = "skipper"\nschedule = "@every 1s"\nmessage = "skipper-job"\ncatch_up = "none"\n`,
    );
    for (let i = 0; i < 10; i++) {
      const d = await startDaemon({ home, config: config() });
      const before = ran(state(home).late).length;
      await waitFor(() => ran(state(home).late).length > before, 10_000, `a run after start ${i}`);
      expect(await d.stop("SIGTERM")).toBe(0);
      await d.cleanup().catch(() => undefined);
      // Down across at least two slots.
      const down = Date.now();
      await waitFor(() => Date.now() - down >= 2100, 5000, "two slots to pass");
    }
    for (const id of ["late", "skipper"]) {
      const slots = state(home)
        [id]!.history.filter((r) => r.outcome === "ran")
        .map((r) => r.slot);
      expect(new Set(slots).size).toBe(slots.length);
    }
    const late = state(home).late!.history;
    expect(late.some((r) => r.outcome === "missed" && r.reason!.includes("the latest runs now"))).toBe(true);
    const skipper = state(home).skipper!.history;
    expect(skipper.some((r) => r.outcome === "missed" && r.reason!.includes("catch_up = none"))).toBe(true);
    // Every provider request was one claimed slot: nothing ran twice.
    const lateRuns = state(home).late!.history.filter((r) => r.outcome === "ran").length;
    expect(requestsWith("late-job").length).toBe(lateRuns);
  }, 120_000);
});
