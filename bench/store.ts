/**
 * Session store benchmark, `bun bench/store.ts`. In one run, on the real
 * file backend with the default durability policy:
 * - append cost per message (one append per message, fdatasync each, as
 *   the session runtime appends them) and per trace event (not synced);
 * - time to load (resume) a 10,000-message session against a new empty
 *   one, each from a freshly opened store (nothing cached in the process);
 * - replay speed of a 10,000-event trace through readEvents;
 * - BM25 search over the 10,000-message session: the first query (which
 *   builds the search index) and a second one (bench/search.ts has the
 *   100,000-message figures).
 * Prints medians (and p90 where useful) and the resume ratio.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonlSessionStore } from "../src/store/jsonl.ts";
import type { NewRecord } from "../src/store/types.ts";

const TEXT = "the quick brown crab walks sideways across the warm sand while the tide goes out. ".repeat(5);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;
const us = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const root = await mkdtemp(join(tmpdir(), "crabtalk-bench-store-"));
try {
  const dir = join(root, "sessions");
  const store = await JsonlSessionStore.open(dir);

  // Append cost per message, fsync policy "messages".
  const s = await store.create({ agent: "bench", createdBy: "bench" });
  const perMessage: number[] = [];
  for (let i = 0; i < 400; i++) {
    const record: NewRecord = {
      kind: "message",
      message: i % 2 ? { role: "assistant", content: TEXT } : { role: "user", content: `${i} ${TEXT}` },
    };
    perMessage.push(await time(() => store.append(s.id, [record])));
  }
  const perEvent: number[] = [];
  for (let i = 1; i <= 2000; i++) {
    perEvent.push(
      await time(() => store.append(s.id, [{ kind: "event", event: { seq: i, type: "text_delta", text: "tok " } }])),
    );
  }

  // A 10,000-message session with its trace (written fast, unsynced), and an empty one.
  const big = await store.create({ agent: "bench", createdBy: "bench" });
  let seq = 0;
  for (let b = 0; b < 100; b++) {
    const batch: NewRecord[] = [];
    for (let i = 0; i < 50; i++) {
      batch.push({ kind: "event", event: { seq: ++seq, type: "start" } });
      batch.push({ kind: "message", message: { role: "user", content: `${b}.${i} ${TEXT}` } });
      batch.push({
        kind: "message",
        message: {
          role: "assistant",
          content: TEXT,
          usage: {
            promptTokens: 100,
            completionTokens: 20,
            cacheReadTokens: 0,
            cacheWriteTokens: 0,
            reasoningTokens: 0,
          },
        },
      });
      batch.push({ kind: "event", event: { seq: ++seq, type: "end", stopReason: "stop" } });
    }
    await store.append(big.id, batch);
  }
  const trace = await store.create({ agent: "bench", createdBy: "bench" });
  for (let b = 0; b < 100; b++) {
    await store.append(
      trace.id,
      Array.from(
        { length: 100 },
        (_, i): NewRecord => ({ kind: "event", event: { seq: b * 100 + i + 1, type: "text_delta", text: "token " } }),
      ),
    );
  }
  const empty = await store.create({ agent: "bench", createdBy: "bench" });
  await store.close();

  const loadBig: number[] = [];
  const loadEmpty: number[] = [];
  let messages = 0;
  for (let r = 0; r < 9; r++) {
    const a = await JsonlSessionStore.open(dir);
    loadBig.push(await time(async () => (messages = (await a.load(big.id))!.messages.length)));
    await a.close();
    const e = await JsonlSessionStore.open(dir);
    loadEmpty.push(await time(() => e.load(empty.id)));
    await e.close();
  }

  const replay: number[] = [];
  let events = 0;
  for (let r = 0; r < 5; r++) {
    const a = await JsonlSessionStore.open(dir);
    replay.push(
      await time(async () => {
        events = 0;
        for await (const _ of a.readEvents(trace.id, 0)) events++;
      }),
    );
    await a.close();
  }

  const searcher = await JsonlSessionStore.open(dir);
  const searchMs = await time(() => searcher.search("crab 42.7 sideways", { limit: 10 }));
  const searchAgainMs = await time(() => searcher.search("tide 17.3 sand", { limit: 10 }));
  await searcher.close();

  const bigMs = median(loadBig);
  const emptyMs = median(loadEmpty);
  console.log(
    `append per message (fdatasync each): median ${us(median(perMessage))}, p90 ${us(p90(perMessage))} over ${perMessage.length}`,
  );
  console.log(
    `append per trace event (unsynced):   median ${us(median(perEvent))}, p90 ${us(p90(perEvent))} over ${perEvent.length}`,
  );
  console.log(`resume (load) ${messages}-message session: median ${bigMs.toFixed(2)} ms`);
  console.log(`resume (load) new empty session:        median ${emptyMs.toFixed(2)} ms`);
  console.log(`resume ratio 10k/empty: ${(bigMs / emptyMs).toFixed(1)}x (+${(bigMs - emptyMs).toFixed(1)} ms)`);
  console.log(
    `replay ${events} events via readEvents: median ${median(replay).toFixed(1)} ms = ${Math.round(events / (median(replay) / 1000)).toLocaleString("en-US")} events/s`,
  );
  console.log(
    `BM25 search over ${messages + perMessage.length} messages: first (builds the index) ${searchMs.toFixed(0)} ms, next ${searchAgainMs.toFixed(2)} ms`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
