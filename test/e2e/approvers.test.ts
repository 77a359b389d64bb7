/**
 * Declared approvers over the wire, against the compiled daemon: a turn
 * that names another session as its approver ("session:<id>", as a
 * delegated task names its parent) gets its approval request delivered to
 * the client following that session, with the task's session in it, and
 * answered from there; a turn declaring "none" is denied at once; a stream
 * naming itself <name> with approver "client:<name>" answers its own prompts.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { endOf, streamTurn, turnConfig } from "../helpers/turn-kit.ts";
import type { StreamEvent } from "../../src/protocol/gen/crabtalk.ts";

let fake: FakeProvider;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({ config: `${turnConfig(fake.url, "", "")}\n[permissions]\nbash = "ask"\n` });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

test("approver session:<parent>: the parent's client gets the task's approval request and answers it", async () => {
  // The parent session exists and a client follows it.
  fake.enqueue(reply({ text: "I am the lead" }));
  const watcher = await d.client();
  const parentTurn = await streamTurn(watcher, { content: "lead turn" });
  const parent = parentTurn[0]!.session;
  const seen: StreamEvent[] = [];
  const following = (async () => {
    for await (const r of watcher.stream({ attach: { session: parent } })) {
      const ev = r.stream;
      if (!ev?.approval) continue;
      seen.push(ev);
      await watcher.request({
        approve: { callId: ev.approval.callId, response: "allow", session: ev.approval.session },
      });
      return;
    }
  })();

  // The "task": another client's turn on a new session, declaring the parent's session as approver.
  fake.enqueue(
    reply({ toolCalls: [{ id: "call_task", name: "bash", args: { command: "echo approved-from-parent" } }] }),
    reply({ text: "task done" }),
  );
  const worker = await d.client();
  const events: StreamEvent[] = [];
  for await (const r of worker.stream({
    stream: { agent: "crab", content: "task", sender: `delegate:${parent}`, approver: `session:${parent}` },
  })) {
    if (r.stream) events.push(r.stream);
  }
  await following;
  const task = events[0]!.session;
  expect(task).not.toBe(parent);
  expect(seen).toHaveLength(1);
  expect(seen[0]!.approval!.session).toBe(task);
  expect(seen[0]!.session).toBe(task);
  const result = events.find((e) => e.toolResult)!.toolResult!;
  expect(result.isError).toBe(false);
  expect(result.output).toContain("approved-from-parent");
  expect(endOf(events).stopReason).toBe("stop");
  watcher.close();
  worker.close();
});

test("approver none: an ask tool is denied at once, with no approval request", async () => {
  fake.enqueue(
    reply({ toolCalls: [{ id: "call_none", name: "bash", args: { command: "echo nope" } }] }),
    reply({ text: "fine" }),
  );
  const c = await d.client();
  const events: StreamEvent[] = [];
  for await (const r of c.stream({ stream: { agent: "crab", content: "x", approver: "none" } })) {
    if (r.stream) events.push(r.stream);
  }
  c.close();
  expect(events.some((e) => e.approval)).toBe(false);
  const result = events.find((e) => e.toolResult)!.toolResult!;
  expect(result.isError).toBe(true);
  expect(result.output).toContain("no interactive client is there to answer");
});

test("approver client:<name> on a stream that names itself <name>: that stream is the interactive approver", async () => {
  fake.enqueue(
    reply({ toolCalls: [{ id: "call_self", name: "bash", args: { command: "echo approved-by-myself" } }] }),
    reply({ text: "done" }),
  );
  // One connection, one stream, no event subscription under the name: the requester itself must be enough.
  const c = await d.client();
  const events: StreamEvent[] = [];
  for await (const r of c.stream({
    stream: { agent: "crab", content: "x", approver: "client:gw-self", client: "gw-self" },
  })) {
    if (!r.stream) continue;
    events.push(r.stream);
    const a = r.stream.approval;
    if (a) await c.request({ approve: { callId: a.callId, response: "allow", session: a.session } });
  }
  c.close();
  expect(events.filter((e) => e.approval)).toHaveLength(1);
  const result = events.find((e) => e.toolResult)!.toolResult!;
  expect(result.isError).toBe(false);
  expect(result.output).toContain("approved-by-myself");
});

test("a malformed approver is a clear 400", async () => {
  const c = await d.client();
  await expect(streamTurnRaw(c, "parent:7")).rejects.toMatchObject({
    code: 400,
    message: expect.stringContaining("is not one of requester, none, session:<id>, client:<name>"),
  });
  c.close();
});

async function streamTurnRaw(c: Awaited<ReturnType<DaemonHandle["client"]>>, approver: string): Promise<void> {
  for await (const _ of c.stream({ stream: { agent: "crab", content: "x", approver } })) {
    // drain
  }
}
