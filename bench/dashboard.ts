/**
 * Dashboard benchmark, `bun bench/dashboard.ts`: what the browser downloads
 * and how fast a session page shows, through the compiled daemon
 * (dist/crabtalk or $CRABTALK_BIN) with `[daemon] http` on, in Debian's
 * chromium (playwright-core; skipped with a message when /usr/bin/chromium
 * is missing).
 * - page weight: the initial page (index.html + script + stylesheet), raw and
 *   gzipped, as the daemon serves it (it gzips text for browsers asking);
 * - first render of the session page for sessions of 100 and 10,000 trace
 *   events (written in the store's format before the daemon starts):
 *   measured in the page, from the route change to the frame after the first
 *   rows are in the DOM; median of RUNS, each after the previous page's
 *   older calls have all arrived (so no run waits on another's replay).
 * The 10,000-event figure is compared with the 100-event one of the same run.
 */
import { CHROMIUM, launchChromium } from "../test/helpers/browser.ts";
import { runCli, startDaemon, tempHome } from "../test/helpers/daemon.ts";
import { writeTraceSession } from "../test/helpers/trace-session.ts";
import { median, printTable } from "./stats.ts";
import { reportTargets } from "./targets.ts";

const RUNS = 5;
const SIZES = [
  { id: 1, events: 100 },
  { id: 2, events: 10_000 },
];
const BUDGET_KB = 200;

if (!CHROMIUM) {
  console.log("dashboard: SKIPPED: /usr/bin/chromium is missing (apt-get install chromium)");
  process.exit(0);
}

const home = tempHome("crabtalk-bench-dash-");
for (const s of SIZES) writeTraceSession(home, { id: s.id, agent: "crab", turns: s.events / 10 });
const daemon = await startDaemon({
  home,
  config: `[daemon]\ntcp = false\nhttp = "127.0.0.1:0"\n[provider.fake]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["m"]\n[agents.crab]\nmodel = "m"\n`,
});
const browser = await launchChromium();
try {
  const login = await runCli(["dashboard", "--json"], { HOME: home, CRABTALK_HOME: home });
  if (login.code !== 0) throw new Error(`crabtalk dashboard failed: ${login.stderr}`);
  const url = (JSON.parse(login.stdout) as { url: string }).url;
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });

  // Page weight: every response of the initial load, as transferred (gzip) and as decoded.
  const weights = new Map<string, { raw: number; wire: number }>();
  page.on("response", async (res) => {
    const path = new URL(res.url()).pathname;
    // The initial page is the html, script and stylesheet (the icon is fetched on the side, and cached).
    if (path !== "/" && !path.endsWith(".js") && !path.endsWith(".css")) return;
    const raw = (await res.body().catch(() => Buffer.alloc(0))).byteLength;
    const sizes = await res.request().sizes();
    weights.set(path, { raw, wire: sizes.responseBodySize });
  });
  await page.goto(url);
  await page.waitForSelector('[data-testid="conn"][data-state="up"]');
  const raw = [...weights.values()].reduce((n, w) => n + w.raw, 0) / 1024;
  const wire = [...weights.values()].reduce((n, w) => n + w.wire, 0) / 1024;

  const firstRender = new Map<number, number[]>();
  for (const s of SIZES) {
    const samples: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      await page.evaluate(`location.hash = "#/live"`);
      await page.waitForSelector('main[data-route="live"]');
      const ms = (await page.evaluate(`(async () => {
        const t0 = performance.now();
        location.hash = "#/session/${s.id}";
        await new Promise((resolve) => {
          const check = () => document.querySelector('.session-page[data-session="${s.id}"][data-ready] .vrow') ? resolve() : requestAnimationFrame(check);
          check();
        });
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        return performance.now() - t0;
      })()`)) as number;
      samples.push(ms);
      await page.waitForSelector(`.session-page[data-session="${s.id}"][data-complete="1"]`, { timeout: 60_000 });
    }
    firstRender.set(s.events, samples);
  }

  const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (${xs.map((x) => x.toFixed(0)).join(", ")})`;
  printTable("dashboard: page weight and session first render", [
    ...[...weights].map(([path, w]): [string, string] => [path, `${w.raw} B raw, ${w.wire} B transferred`]),
    ["initial page total", `${raw.toFixed(1)} KB raw, ${wire.toFixed(1)} KB transferred (gzip)`],
    ...SIZES.map((s): [string, string] => [`session, ${s.events} events`, fmt(firstRender.get(s.events)!)]),
  ]);
  const small = median(firstRender.get(100)!);
  const large = median(firstRender.get(10_000)!);
  reportTargets("dashboard", [
    {
      figure: "initial page (html+js+css), gzipped",
      value: wire,
      unit: "KB",
      baseline: "raw (decoded)",
      baselineValue: raw,
      ratio: wire / raw,
      target: `< ${BUDGET_KB} KB`,
      pass: wire < BUDGET_KB,
    },
    {
      figure: "session page first render, 100 events (median)",
      value: small,
      unit: "ms",
      baseline: "none measured",
      baselineValue: Number.NaN,
      ratio: Number.NaN,
      target: "< 1000 ms",
      pass: small < 1000,
    },
    {
      figure: "session page first render, 10,000 events (median)",
      value: large,
      unit: "ms",
      baseline: "100 events",
      baselineValue: small,
      ratio: large / small,
      target: "< 1000 ms",
      pass: large < 1000,
    },
  ]);
} finally {
  await browser.close();
  await daemon.cleanup();
}
