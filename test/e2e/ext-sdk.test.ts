/**
 * Issue 13 acceptance: an extension written with the SDK (src/ext/sdk),
 * test/fixtures/extensions/sdk-probe.ts, run by the compiled daemon, each of
 * its nine capabilities observed in real turns against the fake provider:
 * its tool's result, its prompt addition and injected message as the
 * provider saw them (the injection not in history), the events it observed,
 * its after-run call, an inference the fake provider answered, the
 * compaction addition and the summary after it, and a client's query.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
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
} from "../helpers/turn-kit.ts";
import { observed, serviceSection, waitState } from "./ext-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let c: CrabtalkClient;
const home = tempHome();
const record = join(home, "sdk.jsonl");
const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({
    home,
    config:
      turnConfig(fake.url, 'tools = ["sdkprobe/*"]') +
      serviceSection("sdkprobe", "sdk-probe.ts", ["--record", record], "config = { mood = 1 }"),
  });
  c = await d.client();
  const s = await waitState(c, "sdkprobe", "running");
  expect(s.capabilities.length).toBe(9);
});
afterAll(async () => {
  c?.close();
  await d.cleanup();
  await fake.stop();
});

test("tools, build_agent, before_run, event_observer, after_run in one turn", async () => {
  fake.enqueue(reply({ toolCalls: [{ id: "c1", name: "sdk_echo", args: { text: "hi" } }] }), reply({ text: "fine" }));
  const before = fake.requests.length;
  const events = await streamTurn(c, { content: "go" });
  expect(textOf(events)).toBe("fine");
  const [first, second] = fake.requests.slice(before);
  const texts = messagesOf(first!).map(contentText);
  expect(texts.join("\n")).toContain("SDK-PROMPT-ADDITION");
  expect(texts).toContain("SDK-INJECTED");
  expect(toolResultsOf(second!)).toEqual([{ id: "c1", text: 'sdk echo: hi (config {"mood":1})' }]);
  const history = await c.request({ getHistory: { session: sessionOf(events) } });
  expect(history.history!.messages.map((m) => m.content)).not.toContain("SDK-INJECTED");
  await waitFor(() => observed(record).some((o) => o.kind === "afterRun" && o.last === "fine"), 5000, "afterRun");
  await waitFor(
    () => observed(record).some((o) => o.kind === "event" && o.event === "end" && o.session === sessionOf(events)),
    5000,
    "the end event",
  );
});

test("infer: answered by the fake provider", async () => {
  fake.enqueue(
    reply({ toolCalls: [{ id: "c2", name: "sdk_ask", args: { question: "capital of France?" } }] }),
    reply({ text: "Paris" }),
    reply({ text: "relayed" }),
  );
  const before = fake.requests.length;
  await streamTurn(c, { content: "ask" });
  expect(messagesOf(fake.requests[before + 1]!).map(contentText)).toEqual(["capital of France?"]);
  expect(toolResultsOf(fake.requests[before + 2]!)[0]!.text).toBe("the model said: Paris");
});

test("compact and after_compact; query and schema from a client", async () => {
  fake.enqueue(reply({ text: "a" }));
  const session = sessionOf(await streamTurn(c, { content: "x" }));
  fake.enqueue(reply({ text: "SDK-SUMMARY" }));
  const before = fake.requests.length;
  await c.request({ compact: { session } });
  expect(JSON.stringify(fake.requests[before]!.body)).toContain("SDK-COMPACT-ADDITION");
  await waitFor(() => observed(record).some((o) => o.kind === "afterCompact"), 5000, "afterCompact");
  expect(observed(record).find((o) => o.kind === "afterCompact")?.summary).toContain("SDK-SUMMARY");
  const q = await c.request({ serviceQuery: { service: "sdkprobe", query: "why" } });
  expect(q.serviceQueryResult?.result).toBe("sdkprobe answers why");
  const schema = await c.request({ getServiceSchema: { service: "sdkprobe" } });
  expect(JSON.parse(schema.serviceSchema!.schema)).toEqual({ service: "sdkprobe" });
});
