/**
 * 1,000 sessions on disk, written in the store's JSONL format before the
 * daemon starts: listing pages correctly (total, offset/limit, newest
 * activity first, agent filter), titles are cut short of long first
 * messages, and an empty home lists nothing. What the daemon keeps in
 * memory for such a home (a summary per session, not its messages) is
 * measured by bench/idle-sessions-rss.ts, which needs a 13-second idle
 * soak to see past garbage the allocator has not returned yet.
 */
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import type { SessionInfo } from "../../src/protocol/gen/crabtalk.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { SCALE_CONFIG, writeSessions } from "../helpers/scale-sessions.ts";

const SESSIONS = 1000;
const MESSAGES_PER_SESSION = 12;
/** Short filler: listing reads every message (counts, tokens), but sizes only matter to the memory benchmark. */
const MESSAGE_CHARS = 200;
/** Titles come from the first user message; this one is far longer than any title. */
const FIRST_MESSAGE_CHARS = 8000;

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

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

test("1,000 sessions: pages are correct and newest first; an empty home lists nothing", async () => {
  const emptyHome = tempHome("crabtalk-scale-empty-");
  const fullHome = tempHome("crabtalk-scale-full-");
  homes.push(emptyHome, fullHome);
  const expected = writeSessions(fullHome, {
    sessions: SESSIONS,
    messagesPerSession: MESSAGES_PER_SESSION,
    messageChars: MESSAGE_CHARS,
    firstMessageChars: FIRST_MESSAGE_CHARS,
  });

  await using empty = await startDaemon({ home: emptyHome, config: SCALE_CONFIG });
  const none = await listAll(empty, 100);
  expect(none.rows).toHaveLength(0);
  expect(none.totals).toEqual([0]);

  await using full = await startDaemon({ home: fullHome, config: SCALE_CONFIG });
  // First a single page: every file is indexed, but only 50 rows ever leave the daemon.
  const probe = await full.client();
  const first = (await probe.request({ sessions: {} })).sessions!;
  probe.close();
  expect(first.sessions).toHaveLength(50);
  expect(Number(first.total)).toBe(SESSIONS);

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
}, 60_000);
