/**
 * Hardening regressions on the session side, against the compiled daemon
 * and a fake provider whose replies choose the attack:
 *  6  a reading client is never dropped during a token burst (ten `crabtalk
 *     send` runs against 8,000-delta bursts all succeed);
 *  7  one reply asking for 400 `bash sleep` calls runs at most the per-reply
 *     cap, and never more than the per-turn limit at once;
 * 15  the approval request comes after the ToolStart it refers to; a 17 MB
 *     tool argument is refused as a result the model can act on, the live
 *     stream and the session's history stay readable;
 *  3  a full disk (a 256 KB tmpfs under sessions/) ends the turn with 507
 *     naming the file, the daemon keeps serving, and once space returns the
 *     next turn works and the session loads (root only: it mounts a tmpfs).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { endOf, floodSse, kinds, streamTurn, toolResultsOf, turnConfig } from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({
    config: turnConfig(fake.url, `\n[agents.asker]\nmodel = "fake-model"\n\n[permissions.asker]\nbash = "ask"\n`),
  });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

describe("hostile model", () => {
  test("6: ten `crabtalk send` runs against 8,000-delta bursts all succeed with the whole text", async () => {
    const DELTAS = 8000;
    const SIZE = 12;
    for (let i = 0; i < 10; i++) {
      fake.enqueue({ kind: "generate", chunks: () => floodSse(DELTAS, SIZE, 8000) });
    }
    const runs = await Promise.all(
      Array.from({ length: 10 }, () => runCrabtalk(d.home, ["send", "--socket", d.socket, "burst please"])),
    );
    for (const r of runs) {
      expect(r.stderr).not.toContain("re-attach");
      expect(r.code).toBe(0);
      // Every delta's label is in the answer, in order: nothing lost to merging or a drop.
      const labels = r.stdout.match(/#\d+:/g) ?? [];
      expect(labels.length).toBe(DELTAS);
      expect(labels[0]).toBe("#0:");
      expect(labels.at(-1)).toBe(`#${DELTAS - 1}:`);
    }
  }, 120_000);

  test("7: 400 bash calls in one reply: 32 run (at most 8 at once), the rest are told to batch", async () => {
    const work = join(d.home, "work");
    mkdirSync(work, { recursive: true });
    // Each call records its start and end; the peak of overlapping calls is read from the log.
    const cmd = (i: number) => `echo start >> calls.log; sleep 0.2; echo end >> calls.log; echo call-${i}`;
    const toolCalls = Array.from({ length: 400 }, (_, i) => ({
      id: `call_${i}`,
      name: "bash",
      args: { command: cmd(i) },
    }));
    fake.enqueue(reply({ toolCalls }), reply({ text: "batched" }));
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { content: "run everything" });
    c.close();
    const results = events.filter((e) => e.toolResult).map((e) => e.toolResult!);
    expect(results).toHaveLength(400);
    const ran = results.filter((r) => !r.isError);
    const refused = results.filter((r) => r.isError);
    expect(ran).toHaveLength(32);
    expect(refused).toHaveLength(368);
    expect(refused[0]!.output).toContain("at most 32 run per reply");
    let running = 0;
    let peak = 0;
    for (const line of readFileSync(join(work, "calls.log"), "utf8").trim().split("\n")) {
      running += line === "start" ? 1 : -1;
      peak = Math.max(peak, running);
    }
    expect(peak).toBeLessThanOrEqual(8);
    expect(peak).toBeGreaterThan(1);
    expect(toolResultsOf(fake.requests[before + 1]!)).toHaveLength(400);
    expect(endOf(events).stopReason).toBe("stop");
  }, 60_000);

  test("15: the approval request follows its ToolStart; answered, the turn goes on", async () => {
    fake.enqueue(
      reply({ text: "checking", toolCalls: [{ id: "call_ask", name: "bash", args: { command: "true" } }] }),
      reply({ text: "done" }),
    );
    const c = await d.client();
    const events: string[] = [];
    let session = 0;
    for await (const r of c.stream({ stream: { agent: "asker", content: "ask first" } })) {
      const ev = r.stream;
      if (!ev) continue;
      events.push(ev.event ?? "?");
      if (ev.start) session = ev.start.session;
      if (ev.approval) {
        expect(ev.approval.session).toBe(session);
        await c.request({ approve: { callId: ev.approval.callId, response: "deny", session } });
      }
    }
    c.close();
    expect(events.indexOf("modelEnd")).toBeLessThan(events.indexOf("toolStart"));
    expect(events.indexOf("toolStart")).toBeLessThan(events.indexOf("approval"));
  });

  test("15: a 17 MB tool argument is an error result; the stream ends normally and history stays readable", async () => {
    const huge = "y".repeat(17 * 1024 * 1024);
    fake.enqueue(
      reply({ toolCalls: [{ id: "call_huge", name: "write", args: { path: "big.txt", content: huge } }] }),
      reply({ text: "I will split it" }),
    );
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { content: "write a lot" });
    expect(kinds(events)).toContain("toolResult");
    const result = events.find((e) => e.toolResult)!.toolResult!;
    expect(result.isError).toBe(true);
    expect(result.output).toMatch(/arguments of write were \d+ characters, over the limit of 1048576/);
    expect(endOf(events).stopReason).toBe("stop");
    // The next request does not carry the 17 MB back to the model.
    expect(fake.requests[before + 1]!.rawBody.length).toBeLessThan(1024 * 1024);
    const history = await c.request({ getHistory: { session: events[0]!.session } });
    expect(history.history!.messages.length).toBeGreaterThanOrEqual(4);
    c.close();
  }, 60_000);
});

const isRoot = process.getuid?.() === 0;
const canMount = isRoot && spawnSync("mount", ["--version"]).status === 0;
if (!canMount) console.log("full-disk regression skipped: it mounts a tmpfs under sessions/, which needs root");

describe.skipIf(!canMount)("full disk (tmpfs under sessions/, root only)", () => {
  test("3: a refused write ends the turn with 507 naming the file; the daemon keeps serving; space back, the next turn works", async () => {
    const home = tempHome();
    const sessions = join(home, "sessions");
    mkdirSync(sessions, { recursive: true, mode: 0o700 });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", sessions]);
    let daemon: DaemonHandle | undefined;
    try {
      daemon = await startDaemon({ home, config: turnConfig(fake.url) });
      fake.enqueue(reply({ text: "small answer" }));
      const c = await daemon.client();
      const first = await streamTurn(c, { content: "hello" });
      const session = first[0]!.session;
      expect(endOf(first).stopReason).toBe("stop");
      // Fill the tmpfs, leaving a few bytes: the next turn's records cannot all be written.
      const filler = join(sessions, "filler");
      spawnSync("sh", ["-c", `dd if=/dev/zero of=${filler} bs=1k count=1024 2>/dev/null; true`]);
      fake.enqueue(reply({ text: "an answer that will not fit ".repeat(200) }));
      const failed = await streamTurn(c, { content: "this will not fit", session }).then(
        () => null,
        (err: { code: number; message: string }) => err,
      );
      expect(failed?.code).toBe(507);
      expect(failed?.message).toContain(join(sessions, `${session}.jsonl`));
      expect(failed?.message).toMatch(/ENOSPC/);
      // Still serving: status and another session's history answer.
      expect((await c.request({ status: {} })).status!.pid).toBe(daemon.proc.pid);
      // Space comes back: the next turn on the same session works, and the session loads.
      spawnSync("rm", ["-f", filler]);
      fake.enqueue(reply({ text: "works again" }));
      const after = await streamTurn(c, { content: "again", session });
      expect(endOf(after).stopReason).toBe("stop");
      const history = await c.request({ getHistory: { session } });
      const texts = history.history!.messages.map((m) => m.content);
      expect(texts).toContain("hello");
      expect(texts).toContain("works again");
      c.close();
      // No torn line was left behind to be reported as a crash.
      await daemon.stop();
      expect(readdirSync(sessions).some((f) => f.endsWith(".torn"))).toBe(false);
      expect(daemon.stderr()).not.toContain("left by a crash");
    } finally {
      await daemon?.cleanup().catch(() => {});
      spawnSync("umount", [sessions]);
    }
  }, 60_000);
});
