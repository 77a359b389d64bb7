/**
 * Chat Completions (OpenAI, DeepSeek) over real HTTP: every recorded stream
 * is replayed byte for byte by the fake server, whole and in odd-sized
 * writes, and the normalized events are checked against values read out of
 * the recording here, independently of the parser under test.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ToolCall, Usage } from "../../src/provider/types.ts";
import { errorReply, FakeProvider, fixtureReply, FIXTURES_DIR, sseReply } from "../helpers/fake-provider.ts";
import { collect, terminal, textOf, thinkingOf } from "../helpers/provider-events.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { openaiAt, TEST_KEY } from "./setup.ts";

/** The recorded chunk fields the expectations read (a typed view of JSON.parse output). */
interface Chunk {
  choices?: {
    index: number;
    delta?: {
      content?: string | null;
      refusal?: string | null;
      reasoning_content?: string | null;
      tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[];
    };
  }[];
  usage?: {
    prompt_tokens: number;
    completion_tokens: number;
    prompt_cache_hit_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number };
    completion_tokens_details?: { reasoning_tokens?: number };
  } | null;
}
type Json = Record<string, unknown>;

interface Expected {
  text: string;
  thinking: string;
  calls: { id: string; name: string; args: unknown }[];
  usage: Usage;
}

/** Reads the recording with plain string splitting and JSON.parse: no code from src/. */
function expectedFrom(file: string): Expected {
  const chunks: Chunk[] = readFileSync(join(FIXTURES_DIR, file), "utf8")
    .split("\n")
    .filter((l) => l.startsWith("data: ") && l !== "data: [DONE]")
    .map((l) => JSON.parse(l.slice(6)) as Chunk);
  let text = "";
  let thinking = "";
  const calls = new Map<number, { id: string; name: string; raw: string }>();
  let usage: NonNullable<Chunk["usage"]> = { prompt_tokens: -1, completion_tokens: -1 };
  for (const chunk of chunks) {
    for (const choice of chunk.choices ?? []) {
      if (choice.index !== 0) continue;
      const d = choice.delta ?? {};
      if (typeof d.content === "string") text += d.content;
      if (typeof d.refusal === "string") text += d.refusal;
      if (typeof d.reasoning_content === "string") thinking += d.reasoning_content;
      for (const tc of d.tool_calls ?? []) {
        const call = calls.get(tc.index) ?? { id: tc.id ?? "", name: tc.function?.name ?? "", raw: "" };
        call.raw += tc.function?.arguments ?? "";
        calls.set(tc.index, call);
      }
    }
    if (chunk.usage) usage = chunk.usage;
  }
  return {
    text,
    thinking,
    calls: [...calls.values()].map((c) => ({ id: c.id, name: c.name, args: JSON.parse(c.raw) })),
    usage: {
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      cacheReadTokens: usage.prompt_cache_hit_tokens ?? usage.prompt_tokens_details?.cached_tokens ?? 0,
      cacheWriteTokens: 0,
      reasoningTokens: usage.completion_tokens_details?.reasoning_tokens ?? 0,
    },
  };
}

const RECORDINGS: [file: string, stop: string, calls: number][] = [
  ["openai/chat-text-gpt-4o-2024-09.sse", "stop", 0],
  ["openai/chat-text-gpt-4o-2026-06.sse", "stop", 0],
  ["openai/chat-tool-call-single-gpt-4o-2024-09.sse", "tool_calls", 1],
  ["openai/chat-tool-calls-parallel-gpt-4o-2024-09.sse", "tool_calls", 2],
  ["openai/chat-tool-calls-parallel-gpt-4o-2026-06.sse", "tool_calls", 2],
  ["openai/chat-tool-calls-parallel-gpt-5-2026-06.sse", "tool_calls", 2],
  ["openai/chat-n3-multiple-choices-2024-09.sse", "stop", 0],
  ["openai/chat-finish-length-2024-09.sse", "length", 0],
  ["openai/chat-refusal-2024-09.sse", "refusal", 0],
  ["deepseek/chat-deepseek-reasoner-reasoning-content.sse", "stop", 0],
  ["deepseek/chat-deepseek-v4-pro-reasoning-content.sse", "stop", 0],
  ["deepseek/chat-deepseek-reasoner-reasoning-then-tool-call.sse", "tool_calls", 1],
];

let fake: FakeProvider;
beforeAll(async () => {
  fake = await FakeProvider.start();
});
afterAll(async () => {
  await fake.stop();
});

const ask = (model = "gpt-4o") => ({ model, messages: [{ role: "user" as const, content: "hi" }] });

describe("recorded Chat Completions streams", () => {
  for (const [file, stop, callCount] of RECORDINGS) {
    for (const chunkSizes of [undefined, [1, 7, 64]]) {
      test(`${file}${chunkSizes ? " (1/7/64-byte writes)" : ""}`, async () => {
        const want = expectedFrom(file);
        fake.enqueue(fixtureReply(file, chunkSizes ? { chunkSizes } : {}));
        const events = await collect(openaiAt(fake.url).stream(ask()));
        const end = terminal(events);
        expect(end.type).toBe("done");
        if (end.type !== "done") return;
        expect(events[0]!.type).toBe("start");
        expect(textOf(events)).toBe(want.text);
        expect(thinkingOf(events)).toBe(want.thinking);
        expect(end.message.content).toBe(want.text);
        expect(end.stopReason).toBe(stop as typeof end.stopReason);
        expect(end.usage).toEqual(want.usage);
        expect(end.message.usage).toEqual(want.usage);
        const ended = events.flatMap((e) => (e.type === "toolcall_end" ? [e.call] : []));
        expect(ended.length).toBe(callCount);
        const asWant = (c: ToolCall): Expected["calls"][number] => ({ id: c.id, name: c.name, args: c.arguments });
        expect(ended.map(asWant)).toEqual(want.calls);
        expect((end.message.toolCalls ?? []).map(asWant)).toEqual(want.calls);
        if (want.thinking) expect(end.message.thinking).toEqual([{ type: "thinking", text: want.thinking }]);
      });
    }
  }

  test("n=3: only choice 0 is followed (it differs from choices 1 and 2)", async () => {
    const file = "openai/chat-n3-multiple-choices-2024-09.sse";
    const all = readFileSync(join(FIXTURES_DIR, file), "utf8");
    const other = all
      .split("\n")
      .filter((l) => l.startsWith("data: {"))
      .map((l) => JSON.parse(l.slice(6)) as Chunk)
      .flatMap((c) => (c.choices ?? []).filter((ch) => ch.index === 1).map((ch) => ch.delta?.content ?? ""))
      .join("");
    fake.enqueue(fixtureReply(file));
    const events = await collect(openaiAt(fake.url).stream(ask()));
    expect(textOf(events)).toBe(expectedFrom(file).text);
    expect(textOf(events)).not.toBe(other);
  });
});

describe("HTTP error bodies", () => {
  for (const [file, status, code] of [
    ["openai/error-401-invalid-api-key.json", 401, "invalid_api_key"],
    ["openai/error-404-model-not-found.json", 404, "model_not_found"],
  ] as const) {
    test(`${status} → non-retryable error carrying the provider's message`, async () => {
      const body = readFileSync(join(FIXTURES_DIR, file), "utf8");
      fake.enqueue(errorReply(status, body));
      const events = await collect(openaiAt(fake.url, { maxRetries: 2 }).stream(ask()));
      expect(events.length).toBe(1);
      const end = terminal(events);
      expect(end.type).toBe("error");
      if (end.type !== "error") return;
      expect(end.stopReason).toBe("error");
      const recorded = JSON.parse(body) as { error: { message: string } };
      expect(end.error).toEqual({ status, message: recorded.error.message, code, retryable: false });
      expect(JSON.stringify(end)).not.toContain(TEST_KEY);
    });
  }
  test("a 400 is not retried even with retries left", async () => {
    const before = fake.requests.length;
    fake.enqueue(
      errorReply(400, { error: { message: "bad", type: "invalid_request_error", param: null, code: null } }),
    );
    const end = terminal(await collect(openaiAt(fake.url, { maxRetries: 3 }).stream(ask())));
    expect(end.type === "error" && end.error).toEqual({
      status: 400,
      message: "bad",
      code: "invalid_request_error",
      retryable: false,
    });
    expect(fake.requests.length - before).toBe(1);
  });
});

describe("hand-built variants (derived in test code, not recordings)", () => {
  const base = readFileSync(join(FIXTURES_DIR, "openai/chat-text-gpt-4o-2026-06.sse"), "utf8");

  test("`: keep-alive` and `: OPENROUTER PROCESSING` comments between events change nothing", async () => {
    const variant = `: OPENROUTER PROCESSING\n\n${base.replaceAll("\n\ndata: ", "\n\n: keep-alive\n\ndata: ")}`;
    fake.enqueue(sseReply(variant, { chunkSizes: [5] }));
    const events = await collect(openaiAt(fake.url).stream(ask()));
    expect(textOf(events)).toBe(expectedFrom("openai/chat-text-gpt-4o-2026-06.sse").text);
    expect(terminal(events).type).toBe("done");
  });

  test("OpenRouter-style in-stream error object inside a 200 stream, then [DONE]", async () => {
    const firstTwo = `${base.split("\n\n").slice(0, 2).join("\n\n")}\n\n`;
    const err = {
      id: "gen-1",
      object: "chat.completion.chunk",
      error: { code: 502, message: "Upstream provider returned error" },
      choices: [],
    };
    fake.enqueue(sseReply(`${firstTwo}data: ${JSON.stringify(err)}\n\ndata: [DONE]\n\n`));
    const events = await collect(openaiAt(fake.url).stream(ask()));
    const end = terminal(events);
    expect(end.type).toBe("error");
    if (end.type !== "error") return;
    expect(end.error).toEqual({ message: "Upstream provider returned error", code: "502", retryable: true });
    expect(end.message.content).toBe(textOf(events));
  });

  test("Groq-style `event: error` then close without [DONE]", async () => {
    const firstTwo = `${base.split("\n\n").slice(0, 2).join("\n\n")}\n\n`;
    fake.enqueue(
      sseReply(
        `${firstTwo}event: error\ndata: {"error":{"message":"Service Unavailable","type":"internal_server_error"}}`,
      ),
    );
    const end = terminal(await collect(openaiAt(fake.url).stream(ask())));
    expect(end.type === "error" && end.error.message).toBe("Service Unavailable");
  });

  test("a stream ending after finish_reason but without [DONE] still completes", async () => {
    fake.enqueue(sseReply(base.replace("data: [DONE]\n\n", "")));
    const end = terminal(await collect(openaiAt(fake.url).stream(ask())));
    expect(end.type).toBe("done");
  });

  test("a stream cut before any finish_reason is a retryable error", async () => {
    fake.enqueue(sseReply(`${base.split("\n\n").slice(0, 2).join("\n\n")}\n\n`));
    const end = terminal(await collect(openaiAt(fake.url).stream(ask())));
    expect(end.type === "error" && end.error).toMatchObject({ code: "incomplete_stream", retryable: true });
  });
});

describe("request shape", () => {
  test("first request, then a second carrying the tool call and its result", async () => {
    const tools = [
      {
        name: "get_weather",
        description: "Weather for a city",
        parameters: { type: "object", properties: { city: { type: "string" } } },
      },
    ];
    fake.enqueue(sseReply(openaiSse({ toolCalls: [{ id: "call_1", name: "get_weather", args: { city: "Paris" } }] })));
    const provider = openaiAt(fake.url);
    const first = terminal(
      await collect(
        provider.stream({
          model: "gpt-4o",
          system: "be brief",
          messages: [{ role: "user", content: "weather?" }],
          tools,
          maxTokens: 256,
        }),
      ),
    );
    expect(first.type).toBe("done");
    if (first.type !== "done") return;
    const req1 = fake.requests.at(-1)!;
    expect(req1.method).toBe("POST");
    expect(req1.path).toBe("/v1/chat/completions");
    expect(req1.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
    expect(req1.headers["content-type"]).toBe("application/json");
    expect(req1.body).toEqual({
      model: "gpt-4o",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "weather?" },
      ],
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: "function", function: tools[0] }],
      max_tokens: 256,
    });

    fake.enqueue(sseReply(openaiSse({ text: "Sunny." })));
    const history = [
      { role: "user" as const, content: "weather?" },
      first.message,
      { role: "tool" as const, toolCallId: "call_1", name: "get_weather", content: "sunny, 21C", isError: false },
    ];
    await collect(provider.stream({ model: "gpt-5-mini", messages: history, tools, maxTokens: 512, thinking: true }));
    const req2 = fake.requests.at(-1)!.body as Json;
    expect(req2.messages).toEqual([
      { role: "user", content: "weather?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "sunny, 21C" },
    ]);
    // gpt-5/o-series: max_completion_tokens, and reasoning_effort when thinking is asked for.
    expect(req2.max_completion_tokens).toBe(512);
    expect(req2.max_tokens).toBeUndefined();
    expect(req2.reasoning_effort).toBe("medium");
  });
});
