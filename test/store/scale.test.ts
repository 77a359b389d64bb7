/**
 * Listing 1,000 sessions of 50 messages each from disk after a restart:
 * paging is exact and the heap stays close to an empty store's, because
 * listing reads each file's head and tail into a ~300-byte summary and
 * never holds messages.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import type { NewRecord } from "../../src/store/types.ts";
import { assistant, ev, msg, tempDir, user } from "./helpers.ts";

const SESSIONS = 1_000;
const MESSAGES = 50;
/** ~400 bytes of text per message: 1,000 x 50 of them is ~20 MB of strings if anything held them. */
const TEXT =
  "the quick brown crab walks sideways across the warm sand while the tide goes out and the gulls circle above. ".repeat(
    4,
  );

function heap(): number {
  Bun.gc(true);
  return process.memoryUsage().heapUsed;
}

test("1,000 sessions: paging is exact and listing memory stays flat", async () => {
  await using d = await tempDir();
  const dir = join(d.path, "sessions");
  const writer = await JsonlSessionStore.open(dir, { fsync: "none" });
  const base = Date.now();
  for (let i = 0; i < SESSIONS; i++) {
    const s = await writer.create({ agent: i % 3 === 0 ? "scout" : "crab", createdBy: "cli" });
    const records: NewRecord[] = [];
    let seq = 0;
    for (let t = 0; t < MESSAGES / 2; t++) {
      records.push(ev(++seq, "start"), { ...msg(user(`${i}.${t} ${TEXT}`)), ts: base + i * 10 + (t % 5) });
      records.push(msg(assistant(TEXT)), ev(++seq, "end"));
    }
    // Activity order is deliberately not creation order.
    records.push({ ...msg(user("last")), ts: base + ((i * 7919) % SESSIONS) * 10 + 9 });
    await writer.append(s.id, records);
  }
  await writer.close();

  // Restart: a new instance; the baseline is the store opened with nothing listed.
  const store = await JsonlSessionStore.open(dir, { fsync: "none" });
  const empty = await JsonlSessionStore.open(join(d.path, "empty"), { fsync: "none" });
  await empty.list({ offset: 0, limit: 50 });
  const before = heap();

  const seen: number[] = [];
  let lastActive = Number.POSITIVE_INFINITY;
  let total = -1;
  for (let offset = 0; ; offset += 50) {
    const page = await store.list({ offset, limit: 50 });
    total = page.total;
    if (page.sessions.length === 0) break;
    for (const s of page.sessions) {
      expect(s.lastActive).toBeLessThanOrEqual(lastActive);
      lastActive = s.lastActive;
      expect(s.messageCount).toBe(MESSAGES + 1);
      seen.push(s.id);
    }
  }
  const after = heap();
  expect(total).toBe(SESSIONS);
  expect(new Set(seen).size).toBe(SESSIONS);
  expect(seen).toHaveLength(SESSIONS);
  const scouts = await store.list({ agent: "scout", offset: 0, limit: 5 });
  expect(scouts.total).toBe(Math.ceil(SESSIONS / 3));

  const grown = after - before;
  console.log(
    `heap growth after listing ${SESSIONS} sessions: ${(grown / 1024).toFixed(0)} KiB (${(grown / SESSIONS).toFixed(0)} B/session)`,
  );
  // Summaries are ~300 B each; holding the messages would cost >20 MB.
  expect(grown).toBeLessThan(3 * 1024 * 1024);
  await store.close();
  await empty.close();
}, 120_000);
