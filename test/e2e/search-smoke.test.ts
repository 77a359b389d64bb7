/**
 * CI guard for search speed (issue 20), with margins wide enough for a busy
 * runner: through the compiled daemon over 20,000 messages, the median
 * warm `sessions search` (SearchSessionsMsg) answers within 5× the time it
 * takes this process just to read the session files once, which any scan
 * must do (the full-scan search took about 40× that; the index 0.6-1.5×).
 * The answers must come from the index, not from a fall-back scan that is
 * still fast enough: the index file exists, and a word planted in the middle
 * of a session file behind the daemon's back is not found (the index reads a
 * file once, then only the bytes it gained), while the same daemon started
 * without the saved index reads the files again and finds it.
 * bench/search.ts measures the 100,000-message targets.
 */
import { afterAll, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { writeLongSession } from "../helpers/session-gen.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/**
 * Overwrites, in place and with the same length, the first word of a user message in the middle of `file`
 * with a word no session contains; returns that word.
 */
function plantWord(file: string): string {
  const bytes = readFileSync(file);
  const lines = bytes.toString("utf8").split("\n");
  for (let i = Math.floor(lines.length / 2); i < lines.length; i++) {
    const r = JSON.parse(lines[i]!) as { kind: string; message?: { role: string; content: unknown } };
    if (r.kind !== "message" || r.message?.role !== "user" || typeof r.message.content !== "string") continue;
    const word = r.message.content.split(" ")[0]!;
    const planted = "q".repeat(word.length);
    // Byte offsets: the file holds multi-byte characters before this line.
    const lineStart = Buffer.byteLength(lines.slice(0, i).join("\n")) + 1;
    const at = bytes.indexOf(`"content":"${word} `, lineStart) + '"content":"'.length;
    const fd = openSync(file, "r+");
    writeSync(fd, planted, at);
    closeSync(fd);
    return planted;
  }
  throw new Error(`no user message in the second half of ${file}`);
}

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

  const index = join(dir, "search.idx");
  expect(existsSync(index)).toBe(true);
  const file = readdirSync(dir).find((f) => f.endsWith(".jsonl"))!;
  const planted = plantWord(join(dir, file));
  const hidden = await c.request({ searchSessions: { query: planted, limit: 5 } });
  expect(hidden.searchResults!.hits).toEqual([]);
  c.close();
  await d.stop();
  // The contrast, so the check above can fail: without its saved index the daemon reads every file again.
  rmSync(index);
  await using again = await startDaemon({ home, config: "[daemon]\ntcp = false\n" });
  const c2 = await again.client();
  const found = await c2.request({ searchSessions: { query: planted, limit: 5 } });
  c2.close();
  expect(found.searchResults!.hits.map((h) => `${h.session}.jsonl`)).toEqual([file]);

  const ratio = median(warm) / median(read);
  console.log(
    `search smoke: read files ${median(read).toFixed(2)} ms, warm search ${median(warm).toFixed(2)} ms = ${ratio.toFixed(2)}x`,
  );
  expect(ratio).toBeLessThanOrEqual(5);
}, 60_000);
