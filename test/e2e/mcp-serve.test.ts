/**
 * Issue 14, the other direction: `crabtalk mcp serve` (the compiled
 * binary) driven by the official SDK's own client over stdio. send_message
 * runs a turn through the daemon and answers the fake model's reply with
 * the session id, and an `events` watcher on the daemon sees that turn;
 * list_agents, list_sessions and session_history read the daemon.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { AgentEvent } from "../../src/protocol/gen/crabtalk.ts";
import { binaryPath, startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, gate, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { turnConfig, waitFor } from "../helpers/turn-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let mcp: Client;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({ config: turnConfig(fake.url) });
  mcp = new Client({ name: "test-client", version: "1.0.0" });
  await mcp.connect(
    new StdioClientTransport({
      command: binaryPath(),
      args: ["mcp", "serve"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: d.home, CRABTALK_HOME: d.home },
      stderr: "pipe",
    }),
  );
});
afterAll(async () => {
  await mcp.close();
  await d.cleanup();
  await fake.stop();
});

const textOf = (r: Awaited<ReturnType<Client["callTool"]>>) =>
  (r.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join("");

test("the server offers the four tools", async () => {
  const { tools } = await mcp.listTools();
  expect(tools.map((t) => t.name).sort()).toEqual(["list_agents", "list_sessions", "send_message", "session_history"]);
});

test("send_message returns the model's answer and session; an events watcher sees the turn", async () => {
  const watcher = await d.client();
  const seen: AgentEvent[] = [];
  const watching = (async () => {
    for await (const r of watcher.stream({ subscribeEvents: {} })) if (r.event) seen.push(r.event);
  })().catch(() => undefined);
  // Frames on one connection are routed in order and subscribing is synchronous: once this ping is answered the subscription exists.
  await watcher.request({ ping: {} });
  fake.enqueue(sseReply(openaiSse({ model: "fake-model", text: "hello from the crab" })));
  const r = await mcp.callTool({ name: "send_message", arguments: { agent: "crab", message: "hi there" } });
  expect(r.isError).toBeFalsy();
  expect(textOf(r)).toBe("hello from the crab");
  const session = (r.structuredContent as { session: number }).session;
  expect(session).toBeGreaterThan(0);
  await waitFor(
    () => seen.some((e) => e.kind === "end" && Number(e.session) === session),
    5000,
    "the watcher to see the turn end",
  );
  const turn = seen.filter((e) => Number(e.session) === session);
  expect(turn[0]!.kind).toBe("start");
  expect(turn[0]!.payload!.start!.sender).toBe("mcp");
  watcher.close();
  await watching;

  const sessions = JSON.parse(textOf(await mcp.callTool({ name: "list_sessions", arguments: {} }))) as { id: number }[];
  expect(sessions.map((s) => s.id)).toContain(session);
  const history = JSON.parse(textOf(await mcp.callTool({ name: "session_history", arguments: { session } }))) as {
    role: string;
    content: string;
  }[];
  expect(history.map((m) => [m.role, m.content])).toEqual([
    ["user", "hi there"],
    ["assistant", "hello from the crab"],
  ]);
});

test("list_agents names the agents; a daemon error is an error result", async () => {
  const agents = JSON.parse(textOf(await mcp.callTool({ name: "list_agents", arguments: {} }))) as { agent: string }[];
  expect(agents.map((a) => a.agent)).toContain("crab");
  const missing = await mcp.callTool({ name: "session_history", arguments: { session: 999 } });
  expect(missing.isError).toBe(true);
  expect(textOf(missing)).toContain("999");
});

test("send_message reports the turn's progress; the answer is the last reply's text", async () => {
  fake.enqueue(
    sseReply(
      openaiSse({
        model: "fake-model",
        text: "let me look",
        toolCalls: [{ id: "c1", name: "read", args: { path: "nothing-here.txt" } }],
      }),
    ),
    sseReply(openaiSse({ model: "fake-model", text: "there is nothing" })),
  );
  const steps: string[] = [];
  const r = await mcp.callTool({ name: "send_message", arguments: { agent: "crab", message: "look" } }, undefined, {
    onprogress: (p) => steps.push(p.message ?? ""),
  });
  expect(textOf(r)).toBe("there is nothing");
  expect(steps[0]).toMatch(/^turn started in session \d+$/);
  expect(steps).toContain("calling read");
});

test("cancelling the MCP request cancels the turn", async () => {
  const held = gate();
  fake.enqueue(sseReply(openaiSse({ model: "fake-model", text: "too late" }), { gate: held.promise }));
  const watcher = await d.client();
  const ends: AgentEvent[] = [];
  const watching = (async () => {
    for await (const r of watcher.stream({ subscribeEvents: {} })) if (r.event?.kind === "end") ends.push(r.event);
  })().catch(() => undefined);
  await watcher.request({ ping: {} });
  const before = fake.requests.length;
  const abort = new AbortController();
  const call = mcp.callTool({ name: "send_message", arguments: { agent: "crab", message: "slow" } }, undefined, {
    signal: abort.signal,
  });
  await fake.waitForRequests(before + 1);
  abort.abort();
  await expect(call).rejects.toThrow();
  await waitFor(() => ends.length > 0, 5000, "the turn to end");
  expect(ends[0]!.payload!.end!.stopReason).toBe("aborted");
  held.release();
  watcher.close();
  await watching;
});
