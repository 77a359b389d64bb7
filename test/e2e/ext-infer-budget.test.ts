/**
 * Issue 13, Infer and budgets: an extension's inference counts toward the
 * daily budget under ext:<name>, and once the budget is spent an inference
 * is refused (the extension reads why) while the daemon and the turn go on.
 * infer_model in the service's table picks the model.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { streamTurn, turnConfig } from "../helpers/turn-kit.ts";
import { serviceSection, waitState } from "./ext-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let c: CrabtalkClient;
const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

beforeAll(async () => {
  fake = await FakeProvider.start();
  const config = turnConfig(fake.url, 'tools = ["probe/*"]')
    .replace('models = ["fake-model"]', 'models = ["fake-model", "cheap-model"]')
    .concat(
      serviceSection("probe", "probe.ts", [], 'infer_model = "cheap-model"'),
      "\n[budget]\ndaily_tokens = 1000\n",
    );
  d = await startDaemon({ config });
  c = await d.client();
  await waitState(c, "probe", "running");
});
afterAll(async () => {
  c?.close();
  await d.cleanup();
  await fake.stop();
});

test("inference runs on infer_model, is booked under ext:probe, and is refused once the budget is spent", async () => {
  fake.enqueue(
    reply({
      toolCalls: [{ id: "a1", name: "probe_ask", args: { question: "one" } }],
      usage: { prompt: 100, completion: 10 },
    }),
    reply({ text: "first answer", usage: { prompt: 850, completion: 100 } }),
    reply({
      toolCalls: [{ id: "a2", name: "probe_ask", args: { question: "two" } }],
      usage: { prompt: 10, completion: 1 },
    }),
    reply({ text: "done" }),
  );
  const before = fake.requests.length;
  const events = await streamTurn(c, { content: "ask twice" });
  const inference = fake.requests[before + 1]!.body as { model: string };
  expect(inference.model).toBe("cheap-model");
  const results = events.filter((e) => e.toolResult).map((e) => e.toolResult!.output);
  expect(results[0]).toBe("model said: first answer");
  expect(results[1]).toBe("model said: infer failed: the daily token budget is spent");
  // Four model calls: turn, inference, turn, turn; the refused inference never reached the provider.
  expect(fake.requests.length).toBe(before + 4);
  const usage = await c.request({ usage: {} });
  const row = usage.usage!.rows.find((r) => r.agent === "ext:probe");
  expect(row).toMatchObject({ model: "cheap-model" });
  expect(row?.usage?.promptTokens).toBe(850);
});
