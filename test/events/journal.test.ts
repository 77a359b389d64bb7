/**
 * The bus journal (src/events/journal.ts) on a real file: numbering and
 * order across reopenings, a line torn by a crash, the count and age
 * bounds, and a cursor older than what is kept reported as lost.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BusJournal, DEFAULT_BOUNDS } from "../../src/events/journal.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function file(): string {
  const dir = mkdtempSync(join(tmpdir(), "crabtalk-journal-"));
  dirs.push(dir);
  return join(dir, "bus-journal.jsonl");
}

const ev = (source: string, at = Date.now()) => ({
  id: `id-${source}`,
  source,
  payload: `p ${source}`,
  hops: 0,
  chain: [],
  at,
});

describe("bus journal", () => {
  test("numbers events in order and keeps numbering after a reopen", () => {
    const f = file();
    const j = new BusJournal(f);
    expect(j.append(ev("a"))).toBe(1);
    expect(j.append(ev("b"))).toBe(2);
    j.close();
    const again = new BusJournal(f);
    expect(again.lastSeq).toBe(2);
    expect(again.append(ev("c"))).toBe(3);
    expect(again.after(0).events.map((e) => [e.seq, e.source])).toEqual([
      [1, "a"],
      [2, "b"],
      [3, "c"],
    ]);
    expect(again.after(2).events.map((e) => e.source)).toEqual(["c"]);
    expect(again.after(3)).toEqual({ events: [] });
    again.close();
  });

  test("a line torn by a crash is skipped, and the next append after it reads back whole", () => {
    const f = file();
    const j = new BusJournal(f);
    j.append(ev("a"));
    j.close();
    appendFileSync(f, '{"seq":2,"id":"torn","sour'); // the crash cut this append mid-line (never fsynced, never streamed)
    const again = new BusJournal(f);
    expect(again.lastSeq).toBe(1);
    expect(again.append(ev("b"))).toBe(2);
    again.close();
    const third = new BusJournal(f);
    expect(third.after(0).events.map((e) => [e.seq, e.source])).toEqual([
      [1, "a"],
      [2, "b"],
    ]);
    expect(readFileSync(f, "utf8")).not.toContain("torn");
    third.close();
  });

  test("the count bound keeps the newest events, and a cursor before them is reported lost", () => {
    const f = file();
    const j = new BusJournal(f, { ...DEFAULT_BOUNDS, maxEvents: 10 });
    for (let i = 1; i <= 25; i++) j.append(ev(`e${i}`));
    // Trimming waits for 10% slack, so between 10 and 11 events are kept, always the newest.
    expect(j.size).toBeGreaterThanOrEqual(10);
    expect(j.size).toBeLessThanOrEqual(11);
    const all = j.after(0);
    expect(all.events.at(-1)!.seq).toBe(25);
    expect(all.events.map((e) => e.seq)).toEqual(
      Array.from({ length: all.events.length }, (_, i) => 26 - all.events.length + i),
    );
    const first = all.events[0]!.seq;
    expect(all.lost).toEqual({ from: 1, to: first - 1 });
    expect(j.after(first - 1).lost).toBeUndefined();
    j.close();
    // Reopening trims to the bound without slack.
    const again = new BusJournal(f, { ...DEFAULT_BOUNDS, maxEvents: 10 });
    expect(again.size).toBe(10);
    expect(again.after(3).lost).toEqual({ from: 4, to: 15 });
    expect(again.append(ev("next"))).toBe(26);
    again.close();
  });

  test("the age bound drops old events at start; numbering goes on after everything was trimmed", () => {
    const f = file();
    let now = 1_000_000_000_000;
    const day = 24 * 3600_000;
    const j = new BusJournal(f, DEFAULT_BOUNDS, () => now);
    j.append(ev("old1", now));
    j.append(ev("old2", now));
    j.close();
    now += 8 * day;
    const later = new BusJournal(f, DEFAULT_BOUNDS, () => now);
    expect(later.size).toBe(0);
    expect(later.after(1)).toEqual({ events: [], lost: { from: 2, to: 2 } });
    expect(later.append(ev("fresh", now))).toBe(3);
    expect(later.after(2).events.map((e) => e.source)).toEqual(["fresh"]);
    later.close();
    const reopened = new BusJournal(f, DEFAULT_BOUNDS, () => now);
    expect(reopened.lastSeq).toBe(3);
    expect(reopened.after(0).lost).toEqual({ from: 1, to: 2 });
    reopened.close();
  });
});
