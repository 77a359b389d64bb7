/**
 * The dashboard's Sessions page beyond one page: 450 sessions written into
 * the home's store before the daemon starts, listed newest activity first
 * in pages of 200 (the Sessions request's offset/limit) as the list is
 * scrolled, virtualized (only the rows near the viewport are in the DOM),
 * down to the oldest session, each session exactly once and in order; the
 * rows' DOM order (the Tab order) stays the list's order when scrolling up.
 * Its own daemon and browser: the other browser test's home stays small.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, launchChromium } from "../helpers/browser.ts";
import { type DaemonHandle, startDaemon, tempHome } from "../helpers/daemon.ts";
import { writeTraceSession } from "../helpers/trace-session.ts";
import { waitFor } from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";

if (!CHROMIUM) console.warn("dashboard-sessions: SKIPPED: /usr/bin/chromium is missing (apt-get install chromium)");
const suite = CHROMIUM ? describe : describe.skip;

const SESSIONS = 450;
let home: string;
let daemon: DaemonHandle;
let browser: Browser;
let page: Page;
const errors: string[] = [];

/** The rows drawn now, top to bottom: [list index, session id]. */
function drawnRows(): Promise<[number, number][]> {
  return page.$$eval('[data-testid="sessions"] .session-row', (rows) =>
    rows
      .map((r) => (r as unknown as { dataset: Record<string, string> }).dataset)
      .map((d): [number, number] => [Number(d.index), Number(d.session)])
      .sort((a, b) => a[0] - b[0]),
  );
}

suite("dashboard Sessions page with more sessions than one page", () => {
  beforeAll(async () => {
    home = tempHome("crabtalk-dash-sessions-");
    // Session i was last active i minutes after the first: newest first means SESSIONS down to 1.
    const base = Date.now() - 2 * 86_400_000;
    for (let id = 1; id <= SESSIONS; id++)
      writeTraceSession(home, { id, agent: id % 2 ? "crab" : "kelp", turns: 1, startMs: base + id * 60_000 });
    const config = `[daemon]\ntcp = false\nhttp = "127.0.0.1:0"\n\n[agents.crab]\nmodel = "fake-model"\n\n[agents.kelp]\nmodel = "fake-model"\n\n[provider.fake]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["fake-model"]\n`;
    [daemon, browser] = await Promise.all([startDaemon({ home, config }), launchChromium()]);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    const r = await runCrabtalk(home, ["dashboard", "--json"]);
    if (r.code !== 0) throw new Error(`crabtalk dashboard failed: ${r.stderr}`);
    await page.goto((JSON.parse(r.stdout) as { url: string }).url);
    await page.waitForSelector('[data-testid="conn"][data-state="up"]', { timeout: 15_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await daemon?.cleanup();
  });

  test("the list pages in as it is scrolled, virtualized, down to the oldest session, each once and in order", async () => {
    await page.evaluate(`location.hash = "#/sessions"`);
    await page.waitForSelector('[data-testid="sessions"] .session-row');
    // One page at first: the newest 200, of which only the rows near the viewport are drawn.
    await waitFor(
      async () => (await page.textContent('[data-testid="sessions-count"]')) === `200 of ${SESSIONS}`,
      10_000,
      "the first page",
    );
    const first = await drawnRows();
    expect(first[0]).toEqual([0, SESSIONS]);
    expect(first.length).toBeLessThan(60);
    expect(await page.getAttribute('[data-testid="sessions"]', "data-complete")).toBe("");

    // Scroll to the end again and again: every session is drawn at its place, newest activity first.
    const seen = new Map<number, number>(); // list index -> session id
    for (let step = 0; step < 200; step++) {
      for (const [index, id] of await drawnRows()) seen.set(index, id);
      if ((await page.getAttribute('[data-testid="sessions"]', "data-complete")) === "1" && seen.has(SESSIONS - 1))
        break;
      await page.$eval('[data-testid="sessions"] .vlist', (el) => {
        const s = el as unknown as { scrollTop: number; scrollHeight: number };
        s.scrollTop = s.scrollHeight;
      });
      await page.waitForFunction(`document.querySelector('[data-testid="sessions"] .vlist').scrollTop > 0`, undefined, {
        timeout: 5_000,
      });
      await page.evaluate("new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))");
    }
    expect(await page.textContent('[data-testid="sessions-count"]')).toBe(`${SESSIONS} of ${SESSIONS}`);
    const last = (await drawnRows()).at(-1)!;
    expect(last).toEqual([SESSIONS - 1, 1]); // the oldest, last
    expect(await page.isVisible('.session-row[data-session="1"]')).toBe(true);
    expect(await page.locator(".session-row").count()).toBeLessThan(60);
    // Rows drawn while scrolling (the scroll jumps, so not every index is drawn): each at its place in activity order.
    for (const [index, id] of seen) expect(id).toBe(SESSIONS - index);
    expect(seen.size).toBeGreaterThan(2 * 40);
    // Scrolled back up, rows drawn anew go before the ones kept: DOM order (the Tab order) is list order.
    for (let i = 0; i < 3; i++) {
      await page.$eval('[data-testid="sessions"] .vlist', (el) => {
        (el as unknown as { scrollTop: number }).scrollTop -= 500;
      });
      await page.evaluate("new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))");
    }
    const domOrder = await page.$$eval('[data-testid="sessions"] .session-row', (rows) =>
      rows.map((r) => Number((r as unknown as { dataset: Record<string, string> }).dataset.index)),
    );
    expect(domOrder.length).toBeGreaterThan(20);
    expect(domOrder).toEqual([...domOrder].sort((a, b) => a - b));
    expect(errors).toEqual([]);
  });
});
