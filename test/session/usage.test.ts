/**
 * The usage ledger on disk: one file per local day, a line per model call,
 * today's file kept open between records. A record after local midnight
 * goes to the new day's file (the old one closed); a ledger built later
 * counts only today's file; close() lets a later record reopen the file.
 */
import { expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { emptyUsage, type Usage } from "../../src/provider/types.ts";
import { localDay, nextLocalMidnight, UsageLedger } from "../../src/session/usage.ts";
import { tempDir } from "../store/helpers.ts";

const used = (prompt: number, completion: number): Usage => ({
  ...emptyUsage(),
  promptTokens: prompt,
  completionTokens: completion,
});

const lines = async (dir: string, day: string): Promise<{ agent: string; usage: Usage }[]> =>
  (await readFile(join(dir, `${day}.jsonl`), "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { agent: string; usage: Usage });

test("records go to the day's file, the next day's after midnight, and survive a new ledger and close()", async () => {
  await using d = await tempDir();
  let now = Date.UTC(2026, 5, 1, 12);
  const clock = () => now;
  const day1 = localDay(now);
  const ledger = new UsageLedger(d.path, undefined, clock);
  ledger.record("crab", "m", used(10, 5));
  ledger.record("crab", "m", used(1, 2));
  expect(ledger.usedToday()).toBe(18);
  expect((await lines(d.path, day1)).map((l) => l.usage.promptTokens)).toEqual([10, 1]);

  now = nextLocalMidnight(now) + 1000;
  const day2 = localDay(now);
  expect(day2).not.toBe(day1);
  ledger.record("owl", "m", used(3, 4));
  expect(ledger.usedToday()).toBe(7);
  expect((await lines(d.path, day1)).length).toBe(2);
  expect((await lines(d.path, day2)).map((l) => l.agent)).toEqual(["owl"]);

  // A restart counts today's file only.
  const restarted = new UsageLedger(d.path, undefined, clock);
  expect(restarted.usedToday()).toBe(7);

  // After close() a record opens the file again and appends to it.
  ledger.close();
  ledger.record("owl", "m", used(1, 1));
  restarted.close();
  expect((await lines(d.path, day2)).map((l) => l.usage.promptTokens)).toEqual([3, 1]);
  ledger.close();
});

test("warmSoon loads today's file on the next pass of the event loop, once, and not when already loaded", async () => {
  await using d = await tempDir();
  const now = Date.UTC(2026, 5, 1, 12);
  let asked = 0;
  const clock = () => {
    asked++;
    return now;
  };
  new UsageLedger(d.path, undefined, clock).record("crab", "m", used(10, 5));
  asked = 0;
  const ledger = new UsageLedger(d.path, undefined, clock);
  ledger.warmSoon();
  ledger.warmSoon();
  expect(asked).toBe(0);
  await new Promise((resolve) => setImmediate(resolve));
  expect(asked).toBe(1);
  // Loaded: a later warmSoon does nothing, and today's count came from the file.
  ledger.warmSoon();
  await new Promise((resolve) => setImmediate(resolve));
  expect(asked).toBe(1);
  expect(ledger.usedToday()).toBe(15);
});
