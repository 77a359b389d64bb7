/**
 * Scheduler cost, `bun bench/cron.ts`, against the compiled binary
 * (dist/crabtalk or $CRABTALK_BIN) with a local scripted provider:
 *
 * 1. Idle cost of 10,000 jobs: a daemon whose crons.toml holds 10,000 jobs
 *    (distinct yearly-ish schedules, so none fires in the window) beside a
 *    daemon with none, started in the same run. Reports start-up time to the
 *    socket answering, VmRSS of each and CPU time each used over IDLE_MS
 *    (30 s by default rather than the minute, to keep `npm run bench`
 *    practical; set IDLE_MS=60000 for a minute).
 * 2. Fire latency: 20 jobs every second (6-field "* * * * * *") beside the
 *    10,000 idle ones, max_concurrent_runs = 32; for each run, the turn's start
 *    event time (daemon clock) minus its slot (the whole second it belongs
 *    to). Median and p99 over FIRE_MS (10 s by default), after 2 s of warm-up.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, tempHome } from "../test/helpers/daemon.ts";
import { FakeProvider, sseReply } from "../test/helpers/fake-provider.ts";
import { openaiSse } from "../test/helpers/sse-builders.ts";
import { median, percentile, printTable } from "./stats.ts";

const JOBS = 10_000;
const IDLE_MS = Number(process.env.IDLE_MS ?? 30_000);
const FIRE_MS = Number(process.env.FIRE_MS ?? 10_000);
const FIRING = 20;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status (Linux only)`);
  return Number(m[1]);
}

/** utime + stime of a process in clock ticks (100 per second on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function idleJobs(): string {
  const out: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    // Minute, hour, day and month vary, so the jobs do not share one parsed schedule; none is due in the window.
    const month = 1 + ((new Date().getMonth() + 6 + (i % 5)) % 12);
    out.push(
      `[[cron]]\nid = "idle-${i}"\nschedule = "${i % 60} ${i % 24} ${1 + (i % 28)} ${month} *"\nmessage = "idle ${i}"\n`,
    );
  }
  return out.join("\n");
}

const fake = await FakeProvider.start();
fake.route(() => sseReply(openaiSse({ model: "fake-model", text: "ok" })));
const config = `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`;
const emptyHome = tempHome("crabtalk-bench-cron-empty-");
const fullHome = tempHome("crabtalk-bench-cron-full-");
const fireHome = tempHome("crabtalk-bench-cron-fire-");
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
try {
  const jobsToml = idleJobs();
  writeFileSync(join(fullHome, "crons.toml"), jobsToml);
  let t = performance.now();
  await using empty = await startDaemon({ home: emptyHome, config });
  const emptyStartMs = performance.now() - t;
  t = performance.now();
  await using full = await startDaemon({ home: fullHome, config });
  const fullStartMs = performance.now() - t;
  const c = await full.client();
  const list = (await c.request({ cronList: { id: "", history: false } })).cronList!;
  if (list.jobs.length !== JOBS)
    throw new Error(`the daemon loaded ${list.jobs.length} jobs, not ${JOBS}: ${list.errors[0]}`);
  if (list.jobs.some((j) => !j.nextRunMs)) throw new Error("a job has no next run");
  c.close();
  await Bun.sleep(2000); // let start-up garbage settle before measuring
  const pids = [empty.proc.pid, full.proc.pid];
  const before = pids.map(cpuTicks);
  await Bun.sleep(IDLE_MS);
  const used = pids.map((p, i) => (cpuTicks(p) - before[i]!) * 10); // ms
  const rss = pids.map(rssKb);
  printTable(`idle cost of ${JOBS.toLocaleString("en")} cron jobs over ${IDLE_MS / 1000} s`, [
    ["start-up to socket, empty / 10,000 jobs", `${emptyStartMs.toFixed(0)} ms / ${fullStartMs.toFixed(0)} ms`],
    ["VmRSS, empty / 10,000 jobs", `${mb(rss[0]!)} / ${mb(rss[1]!)} (+${mb(rss[1]! - rss[0]!)})`],
    [
      "CPU time used while idle, empty / 10,000 jobs",
      `${used[0]} ms / ${used[1]} ms (${((100 * used[1]!) / IDLE_MS).toFixed(2)}% of one core)`,
    ],
  ]);
  await empty.cleanup();
  await full.cleanup();

  const firing = Array.from(
    { length: FIRING },
    (_, i) => `[[cron]]\nid = "fire-${i}"\nschedule = "* * * * * *"\nmessage = "fire ${i}"\noverlap = "skip"\n`,
  ).join("\n");
  writeFileSync(join(fireHome, "crons.toml"), `max_concurrent_runs = 32\n${firing}\n${jobsToml}`);
  await using fire = await startDaemon({ home: fireHome, config });
  const watcher = await fire.client();
  const latencies: number[] = [];
  // The first seconds after start-up (catch-up, JIT warm-up) are left out.
  const from = Date.now() + 2000;
  const end = from + FIRE_MS;
  for await (const m of watcher.stream({ subscribeEvents: {} })) {
    const ev = m.event;
    const start = ev?.payload?.start;
    if (start?.sender.startsWith("cron:fire-") && Date.now() >= from) {
      const ts = Number(ev!.timestampMs);
      latencies.push(ts - Math.floor(ts / 1000) * 1000);
    }
    if (Date.now() > end) break;
  }
  watcher.close();
  printTable(`fire latency, ${FIRING} jobs every second beside ${JOBS.toLocaleString("en")} idle ones`, [
    ["runs measured", String(latencies.length)],
    ["slot to turn start, median", `${median(latencies).toFixed(1)} ms`],
    ["slot to turn start, p99", `${percentile(latencies, 99).toFixed(1)} ms`],
  ]);
} finally {
  await fake.stop();
  for (const h of [emptyHome, fullHome, fireHome]) rmSync(h, { recursive: true, force: true });
}
