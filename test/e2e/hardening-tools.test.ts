/**
 * Issue 11 hardening of the tools, through the compiled daemon: a FIFO in
 * the agent's cwd cannot freeze file I/O (item 1); a bash timeout kills
 * children that left the process group with setsid and says what it killed
 * (item 11); a huge search query is refused at once and a long search does
 * not stall pings (item 14).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CrabtalkClient } from "../../src/client/client.ts";
import { DaemonError } from "../../src/client/errors.ts";
import { MAX_QUERY_CHARS } from "../../src/store/search.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { endOf, sessionOf, streamTurn, textOf, toolResultsOf, turnConfig } from "../helpers/turn-kit.ts";
import { isGone, waitForFile } from "../tools/helpers.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let work: string;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({ config: turnConfig(fake.url, "") });
  work = join(d.home, "work");
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

describe("item 1: a FIFO cannot freeze file I/O", () => {
  test("two writes and a read of a named pipe end as error results; history and a new turn answer promptly", async () => {
    const fifo = join(work, "trap.fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    fake.enqueue(
      reply({
        toolCalls: [
          { id: "call_w1", name: "write", args: { path: "trap.fifo", content: "one" } },
          { id: "call_w2", name: "write", args: { path: "trap.fifo", content: "two" } },
          { id: "call_r", name: "read", args: { path: "trap.fifo" } },
        ],
      }),
      reply({ text: "the pipe refused" }),
    );
    const before = fake.requests.length;
    const c = await d.client();
    const t0 = performance.now();
    const events = await streamTurn(c, { content: "write to the pipe" });
    const turnMs = performance.now() - t0;
    expect(endOf(events).stopReason).toBe("stop");
    const results = events.filter((e) => e.toolResult).map((e) => e.toolResult!);
    expect(results.map((r) => r.callId).sort()).toEqual(["call_r", "call_w1", "call_w2"]);
    for (const r of results) {
      expect(r.isError).toBe(true);
      expect(r.output).toStartWith(`${fifo} is a named pipe (FIFO), not a regular file`);
    }
    expect(toolResultsOf(fake.requests[before + 1]!)).toHaveLength(3);

    // The daemon's own file I/O still runs: history is read from disk, a new turn is appended.
    const session = sessionOf(events);
    const t1 = performance.now();
    const history = await c.request({ getHistory: { session } });
    expect(history.history!.messages.at(-1)!.content).toBe("the pipe refused");
    fake.enqueue(reply({ text: "still here" }));
    const next = await streamTurn(c, { content: "again", session });
    const afterMs = performance.now() - t1;
    c.close();
    expect(textOf(next)).toBe("still here");
    // Generous bounds: before the fix the turn never ended at all.
    expect(turnMs).toBeLessThan(5000);
    expect(afterMs).toBeLessThan(5000);
  });
});

describe("item 11: bash's timeout kills children that left the process group", () => {
  test("a setsid child of a timed-out command is killed, and the result names it", async () => {
    const command = `setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' & sleep 60`;
    fake.enqueue(
      reply({ toolCalls: [{ id: "call_setsid", name: "bash", args: { command, timeout: 1 } }] }),
      reply({ text: "timed out" }),
    );
    const c = await d.client();
    const events = await streamTurn(c, { content: "escape" });
    c.close();
    const pid = Number(await waitForFile(join(work, "escaped.pid")));
    const result = events.find((e) => e.toolResult)!.toolResult!;
    expect(result.isError).toBe(true);
    expect(result.output).toContain(
      `[timed out after 1 s; the command's processes were killed, including 1 that had left its process group (pid ${pid})]`,
    );
    // Gone by the time the result was sent (a zombie waiting for init to reap it counts as gone).
    expect(isGone(pid)).toBe(true);
  });
});

describe("item 14: search cannot stall the daemon", () => {
  /** Pings on their own connection until `until` settles; resolves with the slowest round trip in ms. */
  async function pingWhile(home: string, until: Promise<unknown>): Promise<{ worst: number; count: number }> {
    const c = await CrabtalkClient.connect({ home });
    let done = false;
    const stop = () => {
      done = true;
    };
    void until.then(stop, stop);
    let worst = 0;
    let count = 0;
    try {
      while (!done) {
        const t0 = performance.now();
        await c.request({ ping: {} });
        worst = Math.max(worst, performance.now() - t0);
        count++;
      }
    } finally {
      c.close();
    }
    return { worst, count };
  }

  test("a 12 MB query is refused at once with a 400 that says what to do; pings keep answering", async () => {
    const c = await d.client();
    const query = "word ".repeat((12 * 1024 * 1024) / 5);
    const t0 = performance.now();
    const search = c.request({ searchSessions: { query, limit: 10 } });
    const pings = pingWhile(
      d.home,
      search.catch(() => undefined),
    );
    const err = await search.then(
      () => undefined,
      (e: unknown) => e,
    );
    const tookMs = performance.now() - t0;
    c.close();
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe(400);
    expect((err as DaemonError).message).toContain(
      `search query is ${query.length} characters, over the ${MAX_QUERY_CHARS}-character limit`,
    );
    // Generous: the frame itself is 12 MB; before the cap the daemon spent about 5 s on it.
    expect(tookMs).toBeLessThan(2000);
    expect((await pings).worst).toBeLessThan(1000);
  });

  test("pings answer promptly during a search of a large corpus", async () => {
    const home = tempHome();
    writeCorpus(home, 300);
    await using big = await startDaemon({ home, config: turnConfig(fake.url, "") });
    const c = await big.client();
    // 32 terms, the most a query may have: every word of the corpus is looked up against all of them.
    const query = Array.from({ length: 31 }, (_, i) => `term${i}`).join(" ");
    const t0 = performance.now();
    const search = c.request({ searchSessions: { query: `${query} needle`, limit: 5 } });
    const pings = pingWhile(home, search);
    const reply = await search;
    const tookMs = performance.now() - t0;
    c.close();
    const { worst, count } = await pings;
    rmSync(home, { recursive: true, force: true });
    expect(reply.searchResults!.hits.length).toBe(5);
    expect(reply.searchResults!.hits[0]!.snippet).toContain("needle");
    // The search must take long enough for the measure to mean something; pings must interleave throughout.
    expect(tookMs).toBeGreaterThan(100);
    expect(count).toBeGreaterThan(3);
    expect(worst).toBeLessThan(250);
  });
});

/** `n` sessions of 12 messages of about 2,000 characters each, in the JSONL store's layout; every 50th mentions "needle". */
function writeCorpus(home: string, n: number): void {
  const dir = join(home, "sessions");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const filler = Array.from({ length: 300 }, (_, i) => `term${i % 40} filler${i}`).join(" ");
  for (let id = 1; id <= n; id++) {
    const lines = [JSON.stringify({ ts: id, kind: "meta", v: 1, id, agent: "crab", createdBy: "cli", createdAt: id })];
    for (let m = 0; m < 12; m++) {
      const content = id % 50 === 0 && m === 0 ? `the needle is here ${filler}` : filler;
      const role = m % 2 === 0 ? "user" : "assistant";
      lines.push(JSON.stringify({ ts: id + m, kind: "message", message: { role, content, timestamp: id + m } }));
    }
    writeFileSync(join(dir, `${id}.jsonl`), `${lines.join("\n")}\n`, { mode: 0o600 });
  }
}
