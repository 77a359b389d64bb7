/**
 * 1,000 sessions on disk, written in the store's JSONL format before the
 * daemon starts: listing pages correctly (total, offset/limit, newest
 * activity first, agent filter) and the daemon's idle memory after listing
 * every page stays within a small margin of an empty home's, i.e. listing
 * keeps a summary per session, not its messages.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SessionInfo } from "../../src/protocol/gen/crabtalk.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";

const SESSIONS = 1000;
/**
 * About 30 KB of message text per session (30 MB in all), 8 KB of it in the
 * first user message, where titles come from: a daemon that kept the
 * messages of listed sessions, or a title that pins its whole message,
 * would show it.
 */
const MESSAGES_PER_SESSION = 12;
const MESSAGE_CHARS = 2000;
const FIRST_MESSAGE_CHARS = 8000;
/**
 * Allowed VmRSS growth over an empty home's, once the allocator settled.
 * What must stay: a summary per session (under 1 kB with its title, ~1 MB
 * for 1,000) plus heap the indexing burst leaves behind; measured +4 MB
 * after one listing and +5 to +6 MB after every page. What must fail:
 * holding the 30 MB of messages, or titles that pin their 8 KB first
 * messages (measured +11.7 MB before titles were copied out). 9 MB sits
 * between the two.
 */
const RSS_MARGIN_MB = 9;
const CONFIG = `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n[agents.other]\nmodel = "fake-model"\n`;

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

interface Expected {
  id: number;
  agent: string;
  lastActive: number;
  title: string;
  tokens: number;
}

/** A deterministic shuffle, so activity order differs from id order. */
function permutation(n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  let seed = 12345;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** Writes session files exactly as the JSONL store lays them out: a meta line, then message records. */
function writeSessions(home: string): Expected[] {
  const dir = join(home, "sessions");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const base = Date.now() - 30 * 86_400_000;
  const order = permutation(SESSIONS);
  const filler = "lorem ipsum dolor sit amet ".repeat(Math.ceil(MESSAGE_CHARS / 27)).slice(0, MESSAGE_CHARS);
  const first = "consectetur adipiscing elit "
    .repeat(Math.ceil(FIRST_MESSAGE_CHARS / 28))
    .slice(0, FIRST_MESSAGE_CHARS);
  const expected: Expected[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const id = i + 1;
    const agent = id % 4 === 0 ? "other" : "crab";
    const t0 = base + order[i]! * 60_000;
    const lines = [JSON.stringify({ ts: t0, kind: "meta", v: 1, id, agent, createdBy: "cli", createdAt: t0 })];
    let ts = t0;
    let tokens = 0;
    for (let m = 0; m < MESSAGES_PER_SESSION; m++) {
      ts += 1000;
      if (m % 2 === 0)
        lines.push(
          JSON.stringify({
            ts,
            kind: "message",
            message: {
              role: "user",
              content: m === 0 ? `question ${id} about scaling: ${first}` : filler,
              timestamp: ts,
            },
          }),
        );
      else {
        const usage = {
          promptTokens: 100 + id,
          completionTokens: 10,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          reasoningTokens: 0,
        };
        tokens += usage.promptTokens + usage.completionTokens;
        lines.push(
          JSON.stringify({
            ts,
            kind: "message",
            message: {
              role: "assistant",
              content: filler,
              model: "fake-model",
              stopReason: "stop",
              usage,
              timestamp: ts,
            },
          }),
        );
      }
    }
    writeFileSync(join(dir, `${id}.jsonl`), `${lines.join("\n")}\n`, { mode: 0o600 });
    expected.push({ id, agent, lastActive: ts, title: `question ${id} about scaling: consectetur`, tokens });
  }
  return expected.sort((a, b) => b.lastActive - a.lastActive || b.id - a.id);
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

async function listAll(
  d: DaemonHandle,
  limit: number,
  agent?: string,
): Promise<{ totals: number[]; rows: SessionInfo[] }> {
  const c = await d.client();
  const totals: number[] = [];
  const rows: SessionInfo[] = [];
  try {
    for (let offset = 0; ; offset += limit) {
      const page = (await c.request({ sessions: { offset, limit, agent } })).sessions!;
      totals.push(Number(page.total));
      rows.push(...page.sessions);
      if (page.sessions.length < limit) return { totals, rows };
    }
  } finally {
    c.close();
  }
}

/**
 * The idle VmRSS of each daemon, sampled side by side every 500 ms for
 * 13 s, lowest sample each. Freed heap goes back to the system only at a
 * later collection (measured: +25 MB right after listing, +8 MB a second
 * later, +5 MB after about 11 s), so a single early sample would measure
 * garbage, not what the daemon keeps.
 */
async function idleRss(pids: number[]): Promise<number[]> {
  const low = pids.map(() => Infinity);
  for (const end = Date.now() + 13_000; Date.now() < end; await Bun.sleep(500)) {
    for (const [i, pid] of pids.entries()) low[i] = Math.min(low[i]!, rssKb(pid));
  }
  return low;
}

async function checkRss(empty: DaemonHandle, full: DaemonHandle, after: string): Promise<void> {
  const [emptyRss, fullRss] = await idleRss([empty.proc.pid, full.proc.pid]);
  const growthMb = (fullRss! - emptyRss!) / 1024;
  console.log(
    `idle VmRSS after ${after}: empty home ${(emptyRss! / 1024).toFixed(1)} MB, 1,000 sessions ${(fullRss! / 1024).toFixed(1)} MB (+${growthMb.toFixed(1)} MB; margin ${RSS_MARGIN_MB} MB)`,
  );
  expect(growthMb).toBeLessThan(RSS_MARGIN_MB);
}

test("1,000 sessions: pages are correct and newest first; idle RSS stays near an empty home's", async () => {
  const emptyHome = tempHome("crabtalk-scale-empty-");
  const fullHome = tempHome("crabtalk-scale-full-");
  homes.push(emptyHome, fullHome);
  const expected = writeSessions(fullHome);

  await using empty = await startDaemon({ home: emptyHome, config: CONFIG });
  const none = await listAll(empty, 100);
  expect(none.rows).toHaveLength(0);
  expect(none.totals).toEqual([0]);

  await using full = await startDaemon({ home: fullHome, config: CONFIG });
  // First a single page: every file is indexed, but only 50 rows ever leave the daemon.
  const probe = await full.client();
  const first = (await probe.request({ sessions: {} })).sessions!;
  probe.close();
  expect(first.sessions).toHaveLength(50);
  expect(Number(first.total)).toBe(SESSIONS);
  await checkRss(empty, full, "one listing");

  const all = await listAll(full, 100);
  expect(all.totals.every((t) => t === SESSIONS)).toBe(true);
  expect(all.totals).toHaveLength(11); // ten full pages, then an empty one
  expect(all.rows.map((r) => Number(r.id))).toEqual(expected.map((e) => e.id));
  for (let i = 0; i < all.rows.length; i += 97) {
    const row = all.rows[i]!;
    const want = expected[i]!;
    expect(Number(row.lastActiveMs)).toBe(want.lastActive);
    expect(row.agent).toBe(want.agent);
    // Cut at a word, well short of the 8 KB message it comes from.
    expect(row.title.startsWith(want.title)).toBe(true);
    expect(row.title.endsWith("…")).toBe(true);
    expect(row.title.length).toBeLessThan(120);
    expect(Number(row.messageCount)).toBe(MESSAGES_PER_SESSION);
    expect(Number(row.totalTokens)).toBe(want.tokens);
    expect(row.live).toBe(false);
  }
  // Odd page sizes and offsets line up with the same order.
  const c = await full.client();
  try {
    const mid = (await c.request({ sessions: { offset: 333, limit: 7 } })).sessions!;
    expect(mid.sessions.map((r) => Number(r.id))).toEqual(expected.slice(333, 340).map((e) => e.id));
    const tail = (await c.request({ sessions: { offset: 995, limit: 100 } })).sessions!;
    expect(tail.sessions.map((r) => Number(r.id))).toEqual(expected.slice(995).map((e) => e.id));
    const past = (await c.request({ sessions: { offset: 5000, limit: 10 } })).sessions!;
    expect(past.sessions).toHaveLength(0);
    expect(Number(past.total)).toBe(SESSIONS);
    const dflt = (await c.request({ sessions: {} })).sessions!;
    expect(dflt.sessions.map((r) => Number(r.id))).toEqual(expected.slice(0, 50).map((e) => e.id));
  } finally {
    c.close();
  }
  const others = await listAll(full, 64, "other");
  const wantOthers = expected.filter((e) => e.agent === "other").map((e) => e.id);
  expect(others.totals.every((t) => t === wantOthers.length)).toBe(true);
  expect(others.rows.map((r) => Number(r.id))).toEqual(wantOthers);

  await checkRss(empty, full, "listing every page");
}, 90_000);
