/**
 * Issue 13 acceptance, the nine capabilities through the compiled daemon:
 * an extension (test/fixtures/extensions/probe.ts, multiplexed) and a
 * reference-style one written from proto/ext.proto alone (reference.ts, one
 * call at a time), both spawned by the daemon over their sockets. Each
 * capability is observed doing its job in real turns against the fake
 * provider: tool results, the prompt addition and the injected message the
 * provider sees (the injection not in history), compaction additions and
 * the after-compact summary, observed events, the after-run call, an
 * inference the fake provider answers (booked under ext:probe), queries and
 * schemas from a client, and a config change the extension receives.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
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
import { observed, serviceSection, waitState } from "./ext-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let record: string;

const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

beforeAll(async () => {
  fake = await FakeProvider.start();
  const home = (await import("../helpers/daemon.ts")).tempHome();
  record = join(home, "probe.jsonl");
  d = await startDaemon({
    home,
    config:
      turnConfig(fake.url, 'tools = ["probe/*", "reference/*"]') +
      '\n[agents.plain]\nmodel = "fake-model"\ntools = ["read"]\n' +
      serviceSection("probe", "probe.ts", ["--record", record], 'timeout_ms = 5000\nconfig = { colour = "red" }') +
      serviceSection("reference", "reference.ts", []),
  });
  const c = await d.client();
  await waitState(c, "probe", "running");
  await waitState(c, "reference", "running");
  c.close();
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

describe("nine capabilities", () => {
  test("status: running with all nine capabilities, its tools, a pid", async () => {
    const c = await d.client();
    const s = await waitState(c, "probe", "running");
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
    expect(s.tools).toContain("probe_echo");
    expect(s.pid).toBeGreaterThan(0);
    expect(s.kind).toBe("extension");
    expect(JSON.parse(s.config)).toEqual({ colour: "red" });
    expect(observed(record).find((o) => o.kind === "configure")?.config).toBe('{"colour":"red"}');
  });

  test("tools, build_agent, before_run, event_observer, after_run in one real turn", async () => {
    fake.enqueue(
      reply({ toolCalls: [{ id: "call_1", name: "probe_echo", args: { text: "hello" } }] }),
      reply({ text: "done" }),
    );
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { content: "use the probe" });
    expect(textOf(events)).toBe("done");
    const [first, second] = fake.requests.slice(before);
    // build_agent: the addition is in the system prompt the provider saw.
    const system = systemTextOf(first!);
    expect(system).toContain("PROMPT-ADDITION-FROM-probe");
    // before_run: the injected message reached the provider...
    expect(messagesOf(first!).map(contentText)).toContain("INJECTED-BY-probe");
    // tools: the extension's result is the tool result the model reads.
    expect(toolResultsOf(second!)).toEqual([{ id: "call_1", text: "echo: hello" }]);
    // ...and is not in the session's history.
    const history = await c.request({ getHistory: { session: sessionOf(events) } });
    const texts = history.history!.messages.map((m) => m.content);
    expect(texts).not.toContain("INJECTED-BY-probe");
    expect(texts).toContain("echo: hello");
    c.close();
    // after_run and event_observer (both off the turn's path: wait for them).
    await waitFor(() => observed(record).some((o) => o.kind === "afterRun"), 5000, "afterRun");
    const after = observed(record).find((o) => o.kind === "afterRun")!;
    expect(after.history as string[]).toContain("assistant:done");
    expect(after.systemPrompt as string).toContain("PROMPT-ADDITION-FROM-probe");
    await waitFor(
      () => observed(record).some((o) => o.kind === "event" && o.event === "end" && o.session === sessionOf(events)),
      5000,
      "the end event observed",
    );
    const kinds = observed(record)
      .filter((o) => o.kind === "event" && o.session === sessionOf(events))
      .map((o) => o.event);
    expect(kinds).toContain("start");
    expect(kinds).toContain("toolResult");
    expect(observed(record).find((o) => o.kind === "toolCall")).toMatchObject({ agent: "crab", callId: "call_1" });
  });

  test("build_agent tools: offered to an agent its grants allow, callable; not to one without the grant", async () => {
    const toolNames = (req: (typeof fake.requests)[number]) =>
      ((req.body as { tools?: { function: { name: string } }[] }).tools ?? []).map((t) => t.function.name);
    fake.enqueue(reply({ toolCalls: [{ id: "call_ao", name: "probe_agent_only", args: {} }] }), reply({ text: "ok" }));
    const before = fake.requests.length;
    const c = await d.client();
    await streamTurn(c, { content: "agent only" });
    expect(toolNames(fake.requests[before]!)).toContain("probe_agent_only");
    expect(toolResultsOf(fake.requests[before + 1]!)).toEqual([{ id: "call_ao", text: "agent-only tool for crab" }]);
    fake.enqueue(reply({ text: "plain answer" }));
    await streamTurn(c, { agent: "plain", content: "hi" });
    c.close();
    expect(toolNames(fake.requests.at(-1)!)).toEqual(["read"]);
  });

  test("infer: the extension's inference is answered by the fake provider and booked under ext:probe", async () => {
    fake.enqueue(
      reply({ toolCalls: [{ id: "call_ask", name: "probe_ask", args: { question: "what is six times seven?" } }] }),
      reply({ text: "forty-two", usage: { prompt: 11, completion: 3 } }),
      reply({ text: "relayed" }),
    );
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { content: "ask the probe" });
    expect(textOf(events)).toBe("relayed");
    const [, inference, last] = fake.requests.slice(before);
    expect(messagesOf(inference!).map(contentText)).toEqual(["what is six times seven?"]);
    expect(toolResultsOf(last!)).toEqual([{ id: "call_ask", text: "model said: forty-two" }]);
    const usage = await c.request({ usage: {} });
    const row = usage.usage!.rows.find((r) => r.agent === "ext:probe");
    expect(row?.usage?.promptTokens).toBe(11);
    c.close();
  });

  test("a tool the extension refuses reads `service error: …` to the model", async () => {
    fake.enqueue(reply({ toolCalls: [{ id: "call_f", name: "probe_fail", args: {} }] }), reply({ text: "ok" }));
    const before = fake.requests.length;
    const c = await d.client();
    await streamTurn(c, { content: "fail please" });
    c.close();
    expect(toolResultsOf(fake.requests[before + 1]!)[0]!.text).toBe("service error: probe refused on purpose");
  });

  test("compact and after_compact: the addition reaches the summarizer, the summary reaches the extension", async () => {
    fake.enqueue(reply({ text: "first answer" }));
    const c = await d.client();
    const events = await streamTurn(c, { content: "something to summarize" });
    const session = sessionOf(events);
    fake.enqueue(reply({ text: "SUMMARY-TEXT-42" }));
    const before = fake.requests.length;
    await c.request({ compact: { session } });
    c.close();
    expect(JSON.stringify(fake.requests[before]!.body)).toContain("COMPACT-ADDITION-FROM-probe");
    await waitFor(() => observed(record).some((o) => o.kind === "afterCompact"), 5000, "afterCompact");
    expect(observed(record).find((o) => o.kind === "afterCompact")?.summary).toContain("SUMMARY-TEXT-42");
  });

  test("query and schemas from a client reach the extensions", async () => {
    const c = await d.client();
    const q = await c.request({ serviceQuery: { service: "probe", query: "ping?" } });
    expect(q.serviceQueryResult?.result).toBe('probe answers "ping?"');
    const schema = await c.request({ getServiceSchema: { service: "probe" } });
    expect(JSON.parse(schema.serviceSchema!.schema)).toEqual({ service: "probe" });
    const all = await c.request({ getAllSchemas: {} });
    expect(Object.keys(all.allSchemas!.schemas).sort()).toEqual(["probe", "reference"]);
    const ref = await c.request({ serviceQuery: { service: "reference", query: "q" } });
    expect(ref.serviceQueryResult?.result).toBe("ref:q:{}");
    await expect(c.request({ serviceQuery: { service: "nope", query: "q" } })).rejects.toThrow(
      /no service is called "nope"/,
    );
    c.close();
  });

  test("SetServiceConfig writes crabtalk.toml and re-sends ExtConfigure to the running extension", async () => {
    const c = await d.client();
    const ack = await c.request({ setServiceConfig: { service: "probe", config: '{"colour":"blue","n":3}' } });
    expect(ack.ack?.message).toContain("applied");
    const last = observed(record)
      .filter((o) => o.kind === "configure")
      .at(-1);
    expect(last?.config).toBe('{"colour":"blue","n":3}');
    const toml = readFileSync(join(d.home, "crabtalk.toml"), "utf8");
    expect(toml).toContain('config = { colour = "blue", n = 3 }');
    expect(toml).toContain("[agents.crab]");
    await expect(c.request({ setServiceConfig: { service: "probe", config: "[1]" } })).rejects.toThrow(/JSON object/);
    await expect(c.request({ setServiceConfig: { service: "probe", config: '{"a":null}' } })).rejects.toThrow(
      /config.a is null, which TOML cannot hold/,
    );
    // A config the extension refuses is not written.
    await expect(c.request({ setServiceConfig: { service: "probe", config: '{"refuse":true}' } })).rejects.toThrow(
      /service error: refusing this config/,
    );
    expect(readFileSync(join(d.home, "crabtalk.toml"), "utf8")).toBe(toml);
    c.close();
  });
});

describe("a reference-style extension (one call at a time, no request ids)", () => {
  test("its tools work, and two calls in one response run one after the other", async () => {
    fake.enqueue(
      reply({
        toolCalls: [
          { id: "call_a", name: "ref_slow", args: { ms: 300, text: "a" } },
          { id: "call_b", name: "ref_upper", args: { text: "quiet" } },
        ],
      }),
      reply({ text: "both" }),
    );
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { content: "use reference" });
    c.close();
    expect(toolResultsOf(fake.requests[before + 1]!)).toEqual([
      { id: "call_a", text: "slow:a" },
      { id: "call_b", text: "QUIET" },
    ]);
    // Served one at a time: the quick call waited behind the slow one.
    const results = events.filter((e) => e.toolResult).map((e) => e.toolResult!);
    expect(Number(results.find((r) => r.callId === "call_b")!.durationMs)).toBeGreaterThanOrEqual(250);
  });
});
