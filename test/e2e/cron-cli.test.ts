/**
 * `crabtalk cron` against the compiled daemon: add (written to crons.toml and
 * scheduled at once), list with last and next run (text and --json), run now,
 * history, rm; a duplicate id and a bad schedule are refused with the reason;
 * `crabtalk reload` applies crons.toml and events.toml edited by hand.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { waitFor } from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route(() => sseReply(openaiSse({ model: "fake-model", text: "cron says hi" })));
  d = await startDaemon({
    config: `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`,
  });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

// The socket comes from CRABTALK_HOME (runCrabtalk sets it), so `cron --json` reaches the default subcommand.
const cli = (...args: string[]) => runCrabtalk(d.home, args);

interface JobJson {
  job: { id: string; schedule: string };
  nextRunMs?: number;
  lastRun?: { outcome: string; status: string; session: number };
}
async function jobs(): Promise<JobJson[]> {
  const r = await cli("cron", "--json");
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { jobs: JobJson[] }).jobs;
}

test("cron add schedules a job at once; list shows last and next run; history; rm", async () => {
  const add = await cli("cron", "add", "--id", "pulse", "--schedule", "@every 1s", "--message", "pulse-job");
  expect(add.stderr).toBe("");
  expect(add.stdout).toContain("cron pulse: created");
  expect(readFileSync(join(d.home, "crons.toml"), "utf8")).toContain('id = "pulse"');
  await waitFor(async () => (await jobs())[0]?.lastRun?.status === "ok", 10_000, "pulse to run");
  const [pulse] = await jobs();
  expect(Number(pulse!.nextRunMs)).toBeGreaterThan(Date.now() - 1000);
  const text = await cli("cron");
  expect(text.stdout).toContain("pulse  @every 1s  -> crab");
  expect(text.stdout).toMatch(/last {2}\S+ {2}ran {6}ok session \d+/);
  const hist = await cli("cron", "history", "pulse");
  expect(hist.stdout).toMatch(/ran {6}ok session/);
  const rm = await cli("cron", "rm", "pulse");
  expect(rm.stdout).toContain("cron pulse: deleted");
  expect(await jobs()).toEqual([]);
  expect(readFileSync(join(d.home, "crons.toml"), "utf8")).not.toContain("pulse");
}, 30_000);

test("cron run starts a job now, outside its schedule; its turn's sender is cron:<id>", async () => {
  expect((await cli("cron", "add", "--id", "yearly", "--schedule", "0 0 1 1 *", "--message", "yearly-job")).code).toBe(
    0,
  );
  const before = fake.requests.length;
  const run = await cli("cron", "run", "yearly");
  expect(run.stdout).toContain("cron yearly: run started");
  await waitFor(async () => (await jobs()).find((j) => j.job.id === "yearly")?.lastRun?.status === "ok", 10_000, "run");
  expect(fake.requests.slice(before).some((r) => r.rawBody.includes("yearly-job"))).toBe(true);
  const session = (await jobs()).find((j) => j.job.id === "yearly")!.lastRun!.session;
  const c = await d.client();
  const info = (await c.request({ sessions: {} })).sessions!.sessions.find((s) => s.id === session);
  expect(info?.createdBy).toBe("cron:yearly");
}, 30_000);

test("a duplicate id, a bad schedule, an unknown agent and an unknown job are refused with the reason", async () => {
  expect((await cli("cron", "add", "--id", "dup", "--schedule", "@daily", "--message", "x")).code).toBe(0);
  const dup = await cli("cron", "add", "--id", "dup", "--schedule", "@daily", "--message", "x");
  expect(dup.code).not.toBe(0);
  expect(dup.stderr).toContain('cron "dup" exists');
  const bad = await cli("cron", "add", "--id", "bad", "--schedule", "61 * * * *", "--message", "x");
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain("not a cron expression");
  const agent = await cli("cron", "add", "--id", "who", "--schedule", "@daily", "--agent", "nobody", "--message", "x");
  expect(agent.stderr).toContain('agent "nobody" is not configured');
  const missing = await cli("cron", "run", "ghost");
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toContain('no cron job "ghost"');
  const replace = await cli("cron", "add", "--id", "dup", "--schedule", "@hourly", "--message", "y", "--replace");
  expect(replace.stdout).toContain("cron dup: updated");
  expect((await jobs()).find((j) => j.job.id === "dup")!.job.schedule).toBe("@hourly");
});

test("crabtalk reload re-reads crons.toml and events.toml: a job and a subscription added by hand apply", async () => {
  writeFileSync(
    join(d.home, "crons.toml"),
    `[[cron]]\nid = "by-hand"\nschedule = "@every 1s"\nmessage = "by-hand-job"\nonce = true\n`,
  );
  writeFileSync(
    join(d.home, "events.toml"),
    `[[subscription]]\nsource = "cron:by-hand:done"\ntarget_agent = "crab"\nmessage = "after {source}"\n`,
  );
  const r = await runCrabtalk(d.home, ["reload", "--json"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("cron by-hand: added");
  expect(r.stdout).toContain("subscription cron:by-hand:done -> crab: added");
  await waitFor(
    () => fake.requests.some((q) => q.rawBody.includes("after cron:by-hand:done")),
    10_000,
    "the subscription's turn after the job's run",
  );
});
