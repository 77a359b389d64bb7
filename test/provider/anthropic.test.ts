/**
 * Anthropic Messages over real HTTP: every recorded stream replayed byte for
 * byte (whole and in odd-sized writes), checked against values read out of
 * the recording here with plain JSON.parse; error bodies; the hand-built
 * mid-stream overloaded_error; and the request shape, including a second
 * request that passes thinking signatures and redacted_thinking back.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ThinkingBlock, ToolCall, Usage } from "../../src/provider/types.ts";
import { errorReply, FakeProvider, fixtureReply, FIXTURES_DIR, sseReply } from "../helpers/fake-provider.ts";
import { collect, terminal, textOf, thinkingOf } from "../helpers/provider-events.ts";
import { anthropicSse } from "../helpers/sse-builders.ts";
import { anthropicAt, TEST_KEY } from "./setup.ts";

/** The recorded event fields the expectations read. */
interface Event {
  type: string;
  index?: number;
  message?: { usage: RawUsage };
  usage?: RawUsage;
  content_block?: { type: string; id?: string; name?: string; data?: string };
  delta?: {
    type?: string;
    text?: string;
    thinking?: string;
    signature?: string;
    partial_json?: string;
    stop_reason?: string;
  };
}
interface RawUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

interface Expected {
  text: string;
  thinking: string;
  blocks: ThinkingBlock[];
  calls: { id: string; name: string; args: unknown }[];
  usage: Usage;
  stopReason: string;
}

function expectedFrom(file: string): Expected {
  const events: Event[] = readFileSync(join(FIXTURES_DIR, file), "utf8")
    .split("\n")
    .filter((l) => l.startsWith("data: "))
    .map((l) => JSON.parse(l.slice(6)) as Event);
  let text = "";
  const blocks: ThinkingBlock[] = [];
  const calls = new Map<number, { id: string; name: string; raw: string }>();
  const usage: Required<RawUsage> = {
    input_tokens: 0,
    output_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
  };
  let stopReason = "";
  let open: { text: string; signature: string } | undefined;
  for (const e of events) {
    if (e.type === "message_start") Object.assign(usage, e.message!.usage);
    if (e.type === "message_delta") {
      Object.assign(usage, e.usage);
      stopReason = e.delta?.stop_reason ?? stopReason;
    }
    if (e.type === "content_block_start") {
      const b = e.content_block!;
      if (b.type === "thinking") open = { text: "", signature: "" };
      if (b.type === "redacted_thinking") blocks.push({ type: "redacted_thinking", data: b.data! });
      if (b.type === "tool_use") calls.set(e.index!, { id: b.id!, name: b.name!, raw: "" });
    }
    if (e.type === "content_block_delta") {
      const d = e.delta!;
      if (d.type === "text_delta") text += d.text;
      if (d.type === "thinking_delta") open!.text += d.thinking;
      if (d.type === "signature_delta") open!.signature += d.signature;
      if (d.type === "input_json_delta") calls.get(e.index!)!.raw += d.partial_json;
    }
    if (e.type === "content_block_stop" && open) {
      blocks.push({ type: "thinking", text: open.text, signature: open.signature });
      open = undefined;
    }
  }
  return {
    text,
    thinking: blocks.map((b) => (b.type === "thinking" ? b.text : "")).join(""),
    blocks,
    calls: [...calls.values()].map((c) => ({ id: c.id, name: c.name, args: JSON.parse(c.raw || "{}") })),
    usage: {
      // Documented mapping: promptTokens counts all input, cached parts included.
      promptTokens: usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens,
      completionTokens: usage.output_tokens,
      cacheReadTokens: usage.cache_read_input_tokens,
      cacheWriteTokens: usage.cache_creation_input_tokens,
      reasoningTokens: 0,
    },
    stopReason:
      { end_turn: "stop", max_tokens: "length", tool_use: "tool_calls", refusal: "refusal" }[stopReason] ?? "?",
  };
}

const RECORDINGS: [file: string, calls: number][] = [
  ["anthropic/messages-text.sse", 0],
  ["anthropic/messages-thinking-then-text.sse", 0],
  ["anthropic/messages-thinking-then-tool-use.sse", 1],
  ["anthropic/messages-redacted-thinking.sse", 0],
  ["anthropic/messages-tool-use.sse", 1],
  ["anthropic/messages-tool-use-parallel.sse", 2],
];

let fake: FakeProvider;
beforeAll(async () => {
  fake = await FakeProvider.start();
});
afterAll(async () => {
  await fake.stop();
});

const ask = { model: "claude-sonnet-4-5", messages: [{ role: "user" as const, content: "hi" }] };

describe("recorded Messages streams", () => {
  for (const [file, callCount] of RECORDINGS) {
    for (const chunkSizes of [undefined, [1, 7, 64]]) {
      test(`${file}${chunkSizes ? " (1/7/64-byte writes)" : ""}`, async () => {
        const want = expectedFrom(file);
        fake.enqueue(fixtureReply(file, chunkSizes ? { chunkSizes } : {}));
        const events = await collect(anthropicAt(fake.url).stream(ask));
        const end = terminal(events);
        expect(end.type).toBe("done");
        if (end.type !== "done") return;
        expect(textOf(events)).toBe(want.text);
        expect(thinkingOf(events)).toBe(want.thinking);
        expect(end.message.content).toBe(want.text);
        expect(end.message.thinking ?? []).toEqual(want.blocks);
        expect(events.flatMap((e) => (e.type === "thinking_end" ? [e.block] : []))).toEqual(want.blocks);
        expect(end.stopReason).toBe(want.stopReason as typeof end.stopReason);
        expect(end.usage).toEqual(want.usage);
        const asWant = (c: ToolCall): Expected["calls"][number] => ({ id: c.id, name: c.name, args: c.arguments });
        const ended = events.flatMap((e) => (e.type === "toolcall_end" ? [e.call] : []));
        expect(ended.length).toBe(callCount);
        expect(ended.map(asWant)).toEqual(want.calls);
        expect((end.message.toolCalls ?? []).map(asWant)).toEqual(want.calls);
      });
    }
  }
});

describe("HTTP error bodies", () => {
  for (const [file, status, code] of [
    ["anthropic/error-401-authentication-error.json", 401, "authentication_error"],
    ["anthropic/error-400-invalid-request-error.json", 400, "invalid_request_error"],
  ] as const) {
    test(`${status} → non-retryable error carrying the provider's message`, async () => {
      const body = readFileSync(join(FIXTURES_DIR, file), "utf8");
      const before = fake.requests.length;
      fake.enqueue(errorReply(status, body));
      const events = await collect(anthropicAt(fake.url, { maxRetries: 2 }).stream(ask));
      expect(events.length).toBe(1);
      const end = terminal(events);
      const recorded = JSON.parse(body) as { error: { message: string } };
      expect(end.type === "error" && end.error).toEqual({
        status,
        message: recorded.error.message,
        code,
        retryable: false,
      });
      expect(fake.requests.length - before).toBe(1);
    });
  }
});

describe("hand-built variants (derived in test code, not recordings)", () => {
  test("mid-stream `event: error` overloaded_error, connection closed without message_stop", async () => {
    // No public recording exists (see fixtures README, Gaps); payload as quoted in real-world reports.
    const recorded = readFileSync(join(FIXTURES_DIR, "anthropic/messages-text.sse"), "utf8");
    const head = `${recorded.split("\n\n").slice(0, 6).join("\n\n")}\n\n`;
    const error =
      'event: error\ndata: {"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"}      }\n\n';
    fake.enqueue(sseReply(head + error));
    const events = await collect(anthropicAt(fake.url).stream(ask));
    const end = terminal(events);
    expect(end.type).toBe("error");
    if (end.type !== "error") return;
    expect(end.error).toEqual({ message: "Overloaded", code: "overloaded_error", retryable: true });
    expect(end.message.content).toBe(textOf(events));
    expect(textOf(events).length).toBeGreaterThan(0);
  });
});

describe("request shape", () => {
  test("first request, then a second with thinking signatures, redacted_thinking and tool results", async () => {
    const tools = [
      {
        name: "weather",
        description: "Weather for a place",
        parameters: { type: "object", properties: { location: { type: "string" } } },
      },
    ];
    fake.enqueue(fixtureReply("anthropic/messages-thinking-then-tool-use.sse"));
    const provider = anthropicAt(fake.url);
    const first = terminal(
      await collect(
        provider.stream({
          model: "claude-sonnet-4-5",
          system: "be brief",
          messages: [{ role: "user", content: "weather in Florence?" }],
          tools,
          thinking: true,
        }),
      ),
    );
    expect(first.type).toBe("done");
    if (first.type !== "done") return;
    const req1 = fake.requests.at(-1)!;
    expect(req1.path).toBe("/v1/messages");
    expect(req1.headers["x-api-key"]).toBe(TEST_KEY);
    expect(req1.headers["anthropic-version"]).toBe("2023-06-01");
    expect(req1.headers.authorization).toBeUndefined();
    expect(req1.body).toEqual({
      model: "claude-sonnet-4-5",
      max_tokens: 16384,
      stream: true,
      system: "be brief",
      messages: [{ role: "user", content: [{ type: "text", text: "weather in Florence?" }] }],
      tools: [{ name: "weather", description: "Weather for a place", input_schema: tools[0]!.parameters }],
      thinking: { type: "enabled", budget_tokens: 8192 },
    });

    const want = expectedFrom("anthropic/messages-thinking-then-tool-use.sse");
    const call = want.calls[0]!;
    // Add a redacted block as a second recorded turn would carry it, to prove it goes back opaque.
    const assistant = {
      ...first.message,
      thinking: [
        ...(first.message.thinking ?? []),
        { type: "redacted_thinking" as const, data: "EmwKAhgBEgy3va3pzix/LafPsn4a" },
      ],
    };
    fake.enqueue(sseReply(anthropicSse({ text: "Sunny." })));
    await collect(
      provider.stream({
        model: "claude-sonnet-4-5",
        messages: [
          { role: "user", content: "weather in Florence?" },
          assistant,
          { role: "tool", toolCallId: call.id, name: call.name, content: "sunny", isError: false },
          { role: "tool", toolCallId: "toolu_x", name: "weather", content: "boom", isError: true },
          { role: "user", content: "thanks" },
        ],
        tools,
        maxTokens: 1000,
        thinking: true,
      }),
    );
    const req2 = fake.requests.at(-1)!.body as { messages: unknown; max_tokens: number; thinking: unknown };
    const signed = want.blocks[0]!;
    expect(signed.type === "thinking" && signed.signature!.length).toBeGreaterThan(10);
    expect(req2.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "weather in Florence?" }] },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: want.thinking, signature: signed.type === "thinking" ? signed.signature : "" },
          { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4a" },
          ...(want.text ? [{ type: "text", text: want.text }] : []),
          { type: "tool_use", id: call.id, name: call.name, input: call.args },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: call.id, content: "sunny" },
          { type: "tool_result", tool_use_id: "toolu_x", content: "boom", is_error: true },
          { type: "text", text: "thanks" },
        ],
      },
    ]);
    // budget_tokens must stay >= 1024 and below max_tokens.
    expect(req2.max_tokens).toBe(2048);
    expect(req2.thinking).toEqual({ type: "enabled", budget_tokens: 1024 });
  });

  test("default max_tokens per model family", async () => {
    const { defaultMaxTokens } = await import("../../src/provider/anthropic.ts");
    expect(defaultMaxTokens("claude-3-haiku-20240307")).toBe(4096);
    expect(defaultMaxTokens("claude-3-5-sonnet-latest")).toBe(8192);
    expect(defaultMaxTokens("claude-sonnet-4-5")).toBe(16384);
  });
});
