/**
 * Idle memory of a daemon whose home holds 1,000 sessions, `bun
 * bench/idle-sessions-rss.ts`: the compiled binary (dist/crabtalk or
 * $CRABTALK_BIN) on a home of 1,000 session files (about 30 MB of message
 * text, 8 KB of it in each first user message, where titles come from),
 * against a daemon on an empty home started in the same run as the
 * baseline. Measured after one listing (every file indexed, 50 rows sent)
 * and again after listing every page.
 *
 * Listing must keep a summary per session, not its messages. Freed heap
 * goes back to the system only at a later collection (measured: +25 MB
 * right after listing, +8 MB a second later, +5 MB after about 11 s), so
 * both daemons are sampled side by side every 500 ms for 13 s (SOAK_MS)
 * and the lowest sample of each is what the daemon keeps; the median shows
 * how much garbage the soak saw.
 *
 * Prints, per phase: VmRSS median and lowest for each daemon, the growth
 * of VmRSS and of anonymous memory (RssAnon) over the baseline, and listing
 * times. Exits 1 when the anonymous growth passes ANON_MARGIN_MB (this was
 * the check of test/e2e/sessions-scale.test.ts before it moved here).
 *
 * Then live sessions (issue 20: at most 100 KB per idle live session): a
 * daemon on an empty home, its VmRSS (lowest of the soak) before and after
 * 1,000 sessions are created with one short turn each (eight clients at
 * once, then closed), over the number of sessions its status says are
 * live. CRABTALK_BASELINE_BIN runs the same on another build first (BEFORE).
 * Lowest of a soak, not a forced collection: the daemon offers no way to
 * force one to a client, and the soak's lowest sample is what stays once
 * the collector has run (the figures above show it settles within ~11 s).
 */
import { rmSync } from "node:fs";
import type { CrabtalkClient } from "../src/client/client.ts";
import { binaryPath, startDaemon, tempHome } from "../test/helpers/daemon.ts";
import { FakeProvider } from "../test/helpers/fake-provider.ts";
import { openaiSse } from "../test/helpers/sse-builders.ts";
import { reportTargets, type TargetRow } from "./targets.ts";
import { SCALE_CONFIG, writeSessions } from "../test/helpers/scale-sessions.ts";
import { median, printTable } from "./stats.ts";
import { statusKb } from "./reliability/common.ts";

const SESSIONS = 1000;
const over: string[] = [];
const SOAK_MS = Number(process.env.SOAK_MS ?? 13_000);
const SAMPLE_EVERY_MS = 500;
/**
 * Allowed growth of anonymous memory (RssAnon: the heap and the
 * allocators' pages, what the daemon holds) over the empty home's, lowest
 * samples. What must stay: a summary per session (under 1 kB with its
 * title, ~1 MB for 1,000) plus heap the indexing burst leaves behind;
 * measured +2.3 to +2.8 MB after one listing and +3.5 to +3.9 MB after
 * every page. What must not: holding the 30 MB of messages, or titles that
 * pin their 8 KB first messages (8 MB for 1,000). 6 MB sits between.
 *
 * Not VmRSS: it also counts the binary's code pages, file-backed, that
 * running the listing touched (JavaScriptCore's compilers among them), and
 * those differ run to run in both daemons. In three runs VmRSS growth read
 * 7.0 to 9.9 MB with the empty home's VmRSS between 43.5 and 45.9 MB, while
 * anonymous growth stayed within 2.3 to 3.9 MB; it is still printed, as a
 * report row.
 */
const ANON_MARGIN_MB = 6;

const rssKb = (pid: number): number => statusKb(pid, "VmRSS");

/** VmRSS and RssAnon samples of each pid, side by side, for SOAK_MS. */
async function soak(pids: number[]): Promise<{ rss: number[][]; anon: number[][] }> {
  const rss = pids.map((): number[] => []);
  const anon = pids.map((): number[] => []);
  for (const end = Date.now() + SOAK_MS; Date.now() < end; await Bun.sleep(SAMPLE_EVERY_MS)) {
    for (const [i, pid] of pids.entries()) {
      rss[i]!.push(rssKb(pid));
      anon[i]!.push(statusKb(pid, "RssAnon"));
    }
  }
  return { rss, anon };
}

/** Every page of the listing; returns the time of each request in ms. */
async function listEveryPage(c: CrabtalkClient, limit: number, agent?: string): Promise<number[]> {
  const times: number[] = [];
  for (let offset = 0; ; offset += limit) {
    const t = performance.now();
    const page = (await c.request({ sessions: { offset, limit, agent } })).sessions!;
    times.push(performance.now() - t);
    if (page.sessions.length < limit) return times;
  }
}

const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
const msText = (x: number) => `${x.toFixed(1)} ms`;

/** The idle-session target of issue 20. */
const LIVE_TARGET_KB = 100;

/** RSS growth per live session after 1,000 sessions with one short turn each, with `bin`. */
async function liveSessions(bin: string, label: string): Promise<{ perSessionKb: number; live: number }> {
  await using fake = await FakeProvider.start();
  fake.route(() => ({
    kind: "body",
    body: openaiSse({ model: "fake-model", text: "ok, noted.", textDeltas: 3 }),
    contentType: "text/event-stream",
  }));
  const home = tempHome("crabtalk-bench-live-");
  process.env.CRABTALK_BIN = bin;
  try {
    await using d = await startDaemon({
      home,
      config: `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`,
      args: ["--log-level", "warn"],
    });
    const clients = await Promise.all(Array.from({ length: 8 }, () => d.client()));
    const turn = async (c: CrabtalkClient) => {
      for await (const r of c.stream({ stream: { agent: "crab", content: "remember this" } })) {
        if (r.error) throw new Error(`turn failed: ${r.error.message}`);
      }
    };
    await turn(clients[0]!); // provider code, the store: what any first turn loads
    const [before] = (await soak([d.proc.pid])).rss;
    let made = 1;
    await Promise.all(
      clients.map(async (c) => {
        while (made < SESSIONS) {
          made++;
          await turn(c);
        }
      }),
    );
    const live = Number((await clients[0]!.request({ status: {} })).status!.sessions);
    for (const c of clients) c.close();
    const [after] = (await soak([d.proc.pid])).rss;
    const growthKb = Math.min(...after!) - Math.min(...before!);
    const perSessionKb = growthKb / SESSIONS;
    printTable(`${label}: 1,000 sessions, one short turn each`, [
      ["VmRSS before, lowest", mb(Math.min(...before!))],
      ["VmRSS after, lowest", mb(Math.min(...after!))],
      ["live sessions (status)", String(live)],
      ["growth per session created", `${perSessionKb.toFixed(0)} KB (target ${LIVE_TARGET_KB} KB per live session)`],
    ]);
    return { perSessionKb, live };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const currentBin = binaryPath();
const targets: TargetRow[] = [];
const baselineBin = process.env.CRABTALK_BASELINE_BIN;
const before = baselineBin ? await liveSessions(baselineBin, "BEFORE") : undefined;
const after = await liveSessions(currentBin, baselineBin ? "AFTER" : "current");
process.env.CRABTALK_BIN = currentBin;
if (before)
  targets.push({
    figure: `BEFORE: RSS per idle session (1,000 created, ${before.live} live)`,
    value: before.perSessionKb,
    unit: "KB",
    baseline: "target",
    baselineValue: LIVE_TARGET_KB,
    ratio: before.perSessionKb / LIVE_TARGET_KB,
    target: "(baseline build)",
    pass: true,
  });
targets.push({
  figure: `RSS per idle session (1,000 created, ${after.live} live)`,
  value: after.perSessionKb,
  unit: "KB",
  baseline: "target",
  baselineValue: LIVE_TARGET_KB,
  ratio: after.perSessionKb / LIVE_TARGET_KB,
  target: `≤ ${LIVE_TARGET_KB} KB, all 1,000 live`,
  pass: after.perSessionKb <= LIVE_TARGET_KB && after.live >= SESSIONS,
});
if (after.perSessionKb > LIVE_TARGET_KB || after.live < SESSIONS)
  over.push(`live sessions: ${after.perSessionKb.toFixed(0)} KB each with ${after.live} of ${SESSIONS} live`);

const emptyHome = tempHome("crabtalk-bench-rss-empty-");
const fullHome = tempHome("crabtalk-bench-rss-full-");
try {
  writeSessions(fullHome, { sessions: SESSIONS, messagesPerSession: 12, messageChars: 2000, firstMessageChars: 8000 });
  await using empty = await startDaemon({ home: emptyHome, config: SCALE_CONFIG });
  await using full = await startDaemon({ home: fullHome, config: SCALE_CONFIG });
  const pids = [empty.proc.pid, full.proc.pid];
  const e = await empty.client();
  const f = await full.client();

  async function phase(title: string, listing: [string, string][]): Promise<void> {
    const { rss, anon } = await soak(pids);
    const [emptyKb, fullKb] = rss;
    const emptyLow = Math.min(...emptyKb!);
    const fullLow = Math.min(...fullKb!);
    const growthMb = (fullLow - emptyLow) / 1024;
    const emptyAnonLow = Math.min(...anon[0]!);
    const fullAnonLow = Math.min(...anon[1]!);
    const anonGrowthMb = (fullAnonLow - emptyAnonLow) / 1024;
    targets.push({
      figure: `1,000 sessions on disk, ${title}: anonymous RSS growth`,
      value: anonGrowthMb,
      unit: "MB",
      baseline: "empty home",
      baselineValue: emptyAnonLow / 1024,
      ratio: fullAnonLow / emptyAnonLow,
      target: `≤ +${ANON_MARGIN_MB} MB`,
      pass: anonGrowthMb < ANON_MARGIN_MB,
    });
    targets.push({
      figure: `1,000 sessions on disk, ${title}: RSS growth (with code pages)`,
      value: growthMb,
      unit: "MB",
      baseline: "empty home",
      baselineValue: emptyLow / 1024,
      ratio: fullLow / emptyLow,
      target: "report (no target)",
      pass: true,
    });
    if (anonGrowthMb >= ANON_MARGIN_MB)
      over.push(`${title}: +${anonGrowthMb.toFixed(1)} MB anonymous over the empty home (margin ${ANON_MARGIN_MB} MB)`);
    printTable(title, [
      ...listing,
      [`empty home VmRSS, median / lowest of ${emptyKb!.length}`, `${mb(median(emptyKb!))} / ${mb(emptyLow)}`],
      [`1,000 sessions VmRSS, median / lowest of ${fullKb!.length}`, `${mb(median(fullKb!))} / ${mb(fullLow)}`],
      ["VmRSS growth over the empty home (lowest)", `+${growthMb.toFixed(1)} MB (report)`],
      [`empty home / 1,000 sessions RssAnon, lowest`, `${mb(emptyAnonLow)} / ${mb(fullAnonLow)}`],
      ["RssAnon growth over the empty home (lowest)", `+${anonGrowthMb.toFixed(1)} MB (margin ${ANON_MARGIN_MB} MB)`],
    ]);
  }

  // One listing: every file is indexed, but only 50 rows leave the daemon.
  let t = performance.now();
  await e.request({ sessions: {} });
  const emptyFirstMs = performance.now() - t;
  t = performance.now();
  const first = (await f.request({ sessions: {} })).sessions!;
  const fullFirstMs = performance.now() - t;
  if (Number(first.total) !== SESSIONS) throw new Error(`listed ${first.total} sessions, wrote ${SESSIONS}`);
  await phase("after one listing (first page)", [
    ["first listing, empty home", msText(emptyFirstMs)],
    ["first listing, 1,000 sessions (indexes every file)", msText(fullFirstMs)],
  ]);

  const pages = await listEveryPage(f, 100);
  const filtered = await listEveryPage(f, 64, "other");
  await phase("after listing every page", [
    [`page of 100, median of ${pages.length}`, msText(median(pages))],
    [`page of 64 for one agent, median of ${filtered.length}`, msText(median(filtered))],
  ]);
  e.close();
  f.close();
} finally {
  rmSync(emptyHome, { recursive: true, force: true });
  rmSync(fullHome, { recursive: true, force: true });
}
reportTargets("idle-sessions", targets);
if (over.length > 0) {
  console.error(
    `idle memory over the margin: ${over.join("; ")}. Listing may be keeping messages or whole first messages per session.`,
  );
  process.exit(1);
}
