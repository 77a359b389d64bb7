/**
 * Issue 11 hardening of the tools, through the compiled daemon: a FIFO in
 * the agent's cwd cannot freeze file I/O (item 1); a bash timeout kills
 * children that left the process group with setsid and says what it killed
 * (item 11); a huge search query is refused at once and a long search does
 * not stall pings (item 14).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
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
