/**
 * The SDK behind the real host: the compiled daemon spawns an SDK extension
 * that defines all nine capabilities (test/ext-sdk/full-extension.ts) and
 * each is observed doing its job in real turns against the fake provider:
 * a tool result and a service error the model reads, the prompt addition
 * and the injected message the provider sees (the injection not in
 * history), two inferences the provider answers, the compaction addition
 * and the after-compact summary, after-run calls and observed events (read
 * back through a client's ServiceQuery), and the schema.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type DaemonHandle, startDaemon, tempHome } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import {
  contentText,
  messagesOf,
  sessionOf,
  streamTurn,
  textOf,
  toolResultsOf,
  turnConfig,
  waitFor,
  systemTextOf,
} from "../helpers/turn-kit.ts";
import { waitState } from "./ext-kit.ts";

const FULL = join(import.meta.dir, "..", "ext-sdk", "full-extension.ts");

let fake: FakeProvider;
let d: DaemonHandle;

const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

interface State {
  afterRun: { agent: string; n: number; sp: string }[];
  afterCompact: { agent: string; summary: string }[];
  events: unknown[];
  configs: unknown[];
}

async function state(): Promise<State> {
  const c = await d.client();
  const r = await c.request({ serviceQuery: { service: "full", query: "state" } });
  c.close();
  return JSON.parse(r.serviceQueryResult!.result) as State;
}

beforeAll(async () => {
  fake = await FakeProvider.start();
  const service = `
[services.full]
command = ${JSON.stringify(process.execPath)}
args = [${JSON.stringify(FULL)}]
config = { greeting = "hi" }
`;
  d = await startDaemon({ home: tempHome(), config: turnConfig(fake.url, 'tools = ["full/*"]') + service });
  const c = await d.client();
  const s = await waitState(c, "full", "running");
  c.close();
  expect(s.capabilities.sort()).toEqual(
    [
      "after_compact",
      "after_run",
      "before_run",
      "build_agent",
      "compact",
      "event_observer",
      "infer",
      "query",
      "tools",
    ].sort(),
  );
  expect(JSON.parse(s.config)).toEqual({ greeting: "hi" });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

test("tools, build_agent, before_run, after_run and events in one real turn", async () => {
  fake.enqueue(
    reply({ toolCalls: [{ id: "call_e", name: "echo", args: { text: "hello" } }] }),
    reply({ text: "done" }),
  );
  const before = fake.requests.length;
  const c = await d.client();
  const events = await streamTurn(c, { content: "echo something" });
  expect(textOf(events)).toBe("done");
  const [first, second] = fake.requests.slice(before);
  const system = systemTextOf(first!);
  expect(system).toContain("Be kind, crab.");
  const injected = messagesOf(first!)
    .map(contentText)
    .find((t) => /earlier messages for crab\)$/.test(t));
  expect(injected).toBeDefined();
  expect(toolResultsOf(second!)).toEqual([{ id: "call_e", text: "echo: hello" }]);
  const history = await c.request({ getHistory: { session: sessionOf(events) } });
  c.close();
  const texts = history.history!.messages.map((m) => m.content);
  expect(texts).toContain("echo: hello");
  expect(texts).not.toContain(injected);
  await waitFor(async () => (await state()).afterRun.length > 0, 5000, "afterRun");
  const s = await state();
  expect(s.afterRun[0]!.agent).toBe("crab");
  expect(s.afterRun[0]!.sp).toContain("Be kind, crab.");
  expect(s.events.length).toBeGreaterThan(0);
});

test("infer: two inferences in one tool call are answered by the provider, in order", async () => {
  fake.enqueue(
    reply({ toolCalls: [{ id: "call_a", name: "ask", args: { question: "six times seven?" } }] }),
    reply({ text: "forty-two" }),
    reply({ text: "still forty-two" }),
    reply({ text: "relayed" }),
  );
  const before = fake.requests.length;
  const c = await d.client();
  const events = await streamTurn(c, { content: "ask it" });
  c.close();
  expect(textOf(events)).toBe("relayed");
  const [, first, second, last] = fake.requests.slice(before);
  expect(messagesOf(first!).map(contentText)).toContain("six times seven?");
  expect(messagesOf(second!).map(contentText)).toContain("again: six times seven?");
  expect(toolResultsOf(last!)).toEqual([{ id: "call_a", text: "forty-two | still forty-two" }]);
});

test("a throwing handler reads as a service error and a ToolFailure as its own message", async () => {
  fake.enqueue(
    reply({
      toolCalls: [
        { id: "call_b", name: "boom", args: {} },
        { id: "call_r", name: "refuse", args: {} },
      ],
    }),
    reply({ text: "ok" }),
  );
  const before = fake.requests.length;
  const c = await d.client();
  await streamTurn(c, { content: "break things" });
  c.close();
  const results = toolResultsOf(fake.requests[before + 1]!);
  expect(results.find((r) => r.id === "call_b")!.text).toBe("service error: kaboom");
  expect(results.find((r) => r.id === "call_r")!.text).toContain("no results for that");
});

test("compact and after_compact; schema and query from a client", async () => {
  fake.enqueue(reply({ text: "an answer worth summarising" }));
  const c = await d.client();
  const session = sessionOf(await streamTurn(c, { content: "something" }));
  fake.enqueue(reply({ text: "SUMMARY-SDK-7" }));
  const before = fake.requests.length;
  await c.request({ compact: { session } });
  expect(JSON.stringify(fake.requests[before]!.body)).toContain("Keep the names (crab).");
  await waitFor(async () => (await state()).afterCompact.length > 0, 5000, "afterCompact");
  expect((await state()).afterCompact[0]!.summary).toContain("SUMMARY-SDK-7");
  const schema = await c.request({ getServiceSchema: { service: "full" } });
  expect(JSON.parse(schema.serviceSchema!.schema).properties.greeting.type).toBe("string");
  const q = await c.request({ serviceQuery: { service: "full", query: "ping" } });
  expect(q.serviceQueryResult!.result).toBe("query: ping");
  c.close();
});
