/**
 * The Chat Completions request body is built from per-message JSON kept
 * between requests (openai-chat.ts chatBodyJson): it must be, character for
 * character, JSON.stringify of the body object, for every field the body
 * can hold, for a history that grows (the kept JSON plus the new messages)
 * or changes under the kept part (encoded whole), and as the provider
 * sends it over HTTP while a conversation grows turn by turn.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { buildMessagesBody, messagesBodyJson } from "../../src/provider/anthropic.ts";
import { buildChatBody, chatBodyJson } from "../../src/provider/openai-chat.ts";
import type { Message, ModelRequest } from "../../src/provider/types.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { collect } from "../helpers/provider-events.ts";
import { anthropicSse, openaiSse } from "../helpers/sse-builders.ts";
import { anthropicAt, openaiAt, mixedHistory } from "./setup.ts";

const tools = [
  {
    name: "read",
    description: "Reads a file",
    parameters: { type: "object", properties: { path: { type: "string" } } },
  },
];

const same = (request: ModelRequest, baseUrl = "http://localhost:1/v1") =>
  expect(chatBodyJson(request, baseUrl)).toBe(JSON.stringify(buildChatBody(request, baseUrl)));

describe("chatBodyJson equals JSON.stringify(buildChatBody)", () => {
  const messages = mixedHistory(20);
  const variants: [string, ModelRequest, string?][] = [
    ["no messages", { model: "gpt-4o", messages: [] }],
    ["a system prompt", { model: "gpt-4o", system: "be brief", messages }],
    ["tools and max_tokens", { model: "gpt-4o", messages, tools, maxTokens: 99 }],
    ["a reasoning model: max_completion_tokens", { model: "o3-mini", messages, maxTokens: 99, thinking: true }],
    ["thinking on OpenRouter", { model: "x/y", messages, thinking: true, system: "s" }, "https://openrouter.ai/api/v1"],
    ["thinking on DeepSeek", { model: "deepseek-reasoner", messages, thinking: true }, "https://api.deepseek.com"],
    ["a model name needing escapes", { model: 'we"ird\\model', messages }],
  ];
  for (const [name, request, baseUrl] of variants) {
    test(name, () => {
      same(request, baseUrl);
      same(request, baseUrl); // now from the kept JSON
    });
  }

  test("a growing history: kept messages and new ones, in a new array each time", () => {
    const all = mixedHistory(60);
    for (let n = 1; n <= all.length; n += 7) same({ model: "gpt-4o", system: "s", messages: all.slice(0, n) });
  });

  test("a history that does not start with the kept messages (compaction, a fork) is encoded whole, the same", () => {
    const all = mixedHistory(30);
    same({ model: "gpt-4o", messages: all });
    same({ model: "gpt-4o", messages: [all[0]!, { role: "user", content: "a different second" }, ...all.slice(2)] });
    same({ model: "gpt-4o", messages: all.slice(0, 10) });
    same({ model: "gpt-4o", messages: all });
    same({ model: "gpt-4o", messages: [{ role: "user", content: "summary" }, ...all.slice(20)] });
    const big: Message = { role: "assistant", content: "é".repeat(100_000) };
    same({ model: "gpt-4o", messages: [...all, big] });
    same({ model: "gpt-4o", messages: [...all, big, { role: "user", content: "next" }] });
  });
});

const sameAnthropic = (request: ModelRequest) =>
  expect(messagesBodyJson(request)).toBe(JSON.stringify(buildMessagesBody(request)));

describe("messagesBodyJson (Anthropic) equals JSON.stringify(buildMessagesBody)", () => {
  const signed: Message = {
    role: "assistant",
    content: "",
    thinking: [
      { type: "thinking", text: "hmm", signature: "sig" },
      { type: "redacted_thinking", data: "opaque" },
      { type: "thinking", text: "unsigned, dropped" },
    ],
    toolCalls: [{ id: "t1", name: "read", arguments: { path: "a" }, rawArguments: '{"path":"a"}' }],
  };
  const variants: [string, ModelRequest][] = [
    ["no messages", { model: "claude-sonnet-4", messages: [] }],
    [
      "system, tools and max_tokens",
      { model: "claude-3-5-haiku", system: "be brief", messages: mixedHistory(9), tools, maxTokens: 99 },
    ],
    [
      "thinking (max_tokens raised in place)",
      { model: "claude-opus-4", messages: mixedHistory(9), thinking: true, maxTokens: 100 },
    ],
    [
      "tool results and a user message merged into one turn, an empty assistant skipped between users",
      {
        model: "claude-sonnet-4",
        messages: [
          { role: "user", content: "a" },
          signed,
          { role: "tool", toolCallId: "t1", name: "read", content: "x", isError: true },
          { role: "user", content: "b" },
          { role: "assistant", content: "" },
          { role: "user", content: "c" },
        ],
      },
    ],
    ["a system prompt naming the key", { model: "m", system: '"messages":[]', messages: mixedHistory(2) }],
  ];
  for (const [name, request] of variants) {
    test(name, () => {
      sameAnthropic(request);
      sameAnthropic(request); // now from the kept JSON
    });
  }

  test("a growing history, cut before and after turns that merge with what follows", () => {
    const all: Message[] = [];
    for (let i = 0; i < 12; i++) {
      all.push(
        { role: "user", content: `q${i}` },
        { ...signed, toolCalls: [{ ...signed.toolCalls![0]!, id: `t${i}` }] },
      );
      all.push({ role: "tool", toolCallId: `t${i}`, name: "read", content: `r${i}`, isError: false });
      if (i % 2) all.push({ role: "assistant", content: "" }, { role: "user", content: `after ${i}` });
      all.push({ role: "assistant", content: `a${i}` });
    }
    for (let n = 1; n <= all.length; n++) sameAnthropic({ model: "m", system: "s", messages: all.slice(0, n) });
    sameAnthropic({ model: "m", messages: [all[0]!, { role: "user", content: "changed" }, ...all.slice(2)] });
    sameAnthropic({ model: "m", messages: all });
  });
});

describe("over HTTP", () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await FakeProvider.start();
  });
  afterAll(() => fake.stop());

  test("each request of a growing conversation is the body object's JSON, byte for byte", async () => {
    const provider = openaiAt(fake.url);
    const conversation = mixedHistory(5);
    for (let turn = 0; turn < 4; turn++) {
      fake.enqueue(sseReply(openaiSse({ text: `reply ${turn}` })));
      conversation.push({ role: "user", content: `turn ${turn}` });
      const request: ModelRequest = { model: "gpt-4o", system: "s", messages: [...conversation], tools, maxTokens: 50 };
      await collect(provider.stream(request));
      expect(fake.requests.at(-1)!.rawBody).toBe(JSON.stringify(buildChatBody(request, `${fake.url}/v1`)));
      conversation.push({ role: "assistant", content: `reply ${turn}` });
    }
  });

  test("the same for Anthropic's Messages API", async () => {
    const provider = anthropicAt(fake.url);
    const conversation = mixedHistory(5);
    for (let turn = 0; turn < 4; turn++) {
      fake.enqueue(sseReply(anthropicSse({ text: `reply ${turn}` })));
      conversation.push({ role: "user", content: `turn ${turn}` });
      const request: ModelRequest = { model: "claude-sonnet-4", system: "s", messages: [...conversation], tools };
      await collect(provider.stream(request));
      expect(fake.requests.at(-1)!.rawBody).toBe(JSON.stringify(buildMessagesBody(request)));
      conversation.push({ role: "assistant", content: `reply ${turn}` });
    }
  });

  test("prepare() ahead of a request (as a turn does during its fsync) leaves every body byte for byte the same", async () => {
    for (const [provider, sse, build, model] of [
      [openaiAt(fake.url), openaiSse, (r: ModelRequest) => buildChatBody(r, `${fake.url}/v1`), "gpt-4o"],
      [anthropicAt(fake.url), anthropicSse, buildMessagesBody, "claude-sonnet-4"],
    ] as const) {
      expect(provider.prepare).toBeDefined();
      const conversation = mixedHistory(8);
      for (let turn = 0; turn < 3; turn++) {
        fake.enqueue(sseReply(sse({ text: `reply ${turn}` })));
        // The history without the new question, then the request with it: prepared prefix plus what follows.
        provider.prepare?.(conversation);
        conversation.push({ role: "user", content: `turn ${turn}` });
        const request: ModelRequest = { model, system: "s", messages: [...conversation], tools };
        await collect(provider.stream(request));
        expect(fake.requests.at(-1)!.rawBody).toBe(JSON.stringify(build(request)));
        conversation.push({ role: "assistant", content: `reply ${turn}` });
      }
      // A prepare for a history the request does not start with (a compaction came between) is not used.
      provider.prepare?.(mixedHistory(3));
      fake.enqueue(sseReply(sse({ text: "after" })));
      const other: ModelRequest = { model, messages: [{ role: "user", content: "summary" }, ...conversation.slice(4)] };
      await collect(provider.stream(other));
      expect(fake.requests.at(-1)!.rawBody).toBe(JSON.stringify(build(other)));
    }
  });
});
