/**
 * CI guard for search speed (issue 20), with margins wide enough for a busy
 * runner: through the compiled daemon over 20,000 messages, the median
 * warm `sessions search` (SearchSessionsMsg) answers within 5× the time it
 * takes this process just to read the session files once, which any scan
 * must do (the full-scan search took about 40× that; the index 0.6-1.5×).
 * bench/search.ts measures the 100,000-message targets.
 */
import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { writeLongSession } from "../helpers/session-gen.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const WORDS = Array.from({ length: 5000 }, (_, i) => `w${(i * 7919) % 100_003}`);

test("warm sessions search over 20,000 messages answers within 5x reading the files", async () => {
  const home = tempHome("crabtalk-search-smoke-");
  homes.push(home);
  const dir = join(home, "sessions");
  const store = await JsonlSessionStore.open(dir, { fsync: "none" });
  let seed = 1;
  const next = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % WORDS.length;
  };
  const text = (): string => Array.from({ length: 30 }, () => WORDS[next()]!).join(" ");
  for (let s = 0; s < 20; s++) await writeLongSession(store, { messages: 1000, toolEvery: 4, text });
  await store.close();

  const read: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    for (const f of readdirSync(dir)) if (f.endsWith(".jsonl")) readFileSync(join(dir, f), "utf8");
    read.push(performance.now() - t);
  }

  await using d = await startDaemon({ home, config: "[daemon]\ntcp = false\n" });
  const c = await d.client();
  const first = await c.request({ searchSessions: { query: WORDS[1]!, limit: 20 } });
  expect(first.searchResults!.hits.length).toBe(20);
  const warm: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    await c.request({ searchSessions: { query: `${WORDS[i * 13]} ${WORDS[i * 29 + 1]}`, limit: 20 } });
    warm.push(performance.now() - t);
  }
  c.close();
  const ratio = median(warm) / median(read);
  console.log(
    `search smoke: read files ${median(read).toFixed(2)} ms, warm search ${median(warm).toFixed(2)} ms = ${ratio.toFixed(2)}x`,
  );
  expect(ratio).toBeLessThanOrEqual(5);
}, 60_000);
