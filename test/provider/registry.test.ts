/**
 * The registry: routing by model across both APIs against one fake server,
 * unknown models as a thrown error (providerFor) and as a terminal event
 * (stream), and a scripted multi-turn exchange chosen by the request's last
 * message, the pattern daemon end-to-end tests build on.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ProviderRegistry, UnknownModelError, type ProviderSettings } from "../../src/provider/registry.ts";
import type { Message } from "../../src/provider/types.ts";
import { FakeProvider, FIXTURES_DIR, sseReply } from "../helpers/fake-provider.ts";
import { collect, terminal, textOf } from "../helpers/provider-events.ts";
import { anthropicSse, openaiSse } from "../helpers/sse-builders.ts";
import { CapturingLog, TEST_KEY } from "./setup.ts";

let fake: FakeProvider;
let registry: ProviderRegistry;
beforeAll(async () => {
  fake = await FakeProvider.start();
  const common = { headers: {}, maxRetries: 1, timeoutMs: 2000, idleTimeoutMs: 2000, contextWindow: {} };
  const settings: ProviderSettings[] = [
    {
      ...common,
      name: "oa",
      kind: "openai",
      baseUrl: `${fake.url}/v1`,
      apiKey: TEST_KEY,
      models: ["gpt-4o-mini"],
      contextWindow: { "gpt-4o-mini": 128000 },
    },
    {
      ...common,
      name: "an",
      kind: "anthropic",
      baseUrl: `${fake.url}/v1`,
      apiKey: TEST_KEY,
      models: ["claude-sonnet-4-5"],
    },
  ];
  registry = new ProviderRegistry(settings, { backoffBaseMs: 5, log: new CapturingLog() });
});
afterAll(async () => {
  await fake.stop();
});

describe("ProviderRegistry", () => {
  test("providerFor routes by model; unknown model lists the configured ones", () => {
    expect(registry.providerFor("gpt-4o-mini").name).toBe("oa");
    expect(registry.providerFor("claude-sonnet-4-5").name).toBe("an");
    expect(registry.contextWindow("gpt-4o-mini")).toBe(128000);
    expect(() => registry.providerFor("gpt-9")).toThrow(UnknownModelError);
    expect(() => registry.providerFor("gpt-9")).toThrow(
      /unknown model "gpt-9": configured models are gpt-4o-mini, claude-sonnet-4-5/,
    );
    expect(() => new ProviderRegistry([]).providerFor("x")).toThrow(/no providers are configured/);
  });

  test("stream() reports an unknown model as an error event, not a throw", async () => {
    const end = terminal(await collect(registry.stream({ model: "gpt-9", messages: [] })));
    expect(end.type === "error" && end.error).toMatchObject({ code: "unknown_model", retryable: false });
  });

  test("scripted multi-turn exchange chosen by the last message, across both APIs", async () => {
    fake.route((req) => {
      const body = req.body as { model: string; messages: { role: string; content: unknown }[] };
      const last = body.messages.at(-1)!;
      const isAnthropic = req.path === "/v1/messages";
      const sse = isAnthropic ? anthropicSse : openaiSse;
      // A tool result comes back as role "tool" (Chat) or a user turn of tool_result blocks (Messages).
      const sawResult =
        last.role === "tool" || (Array.isArray(last.content) && JSON.stringify(last.content).includes("tool_result"));
      if (sawResult) return sseReply(sse({ model: body.model, text: "It is sunny.", textDeltas: 4 }));
      return sseReply(
        sse({ model: body.model, toolCalls: [{ id: "call_w", name: "weather", args: { city: "Oslo" } }] }),
        { chunkDelayMs: 1, chunkSizes: [50] },
      );
    });
    for (const model of ["gpt-4o-mini", "claude-sonnet-4-5"]) {
      const history: Message[] = [{ role: "user", content: "weather in Oslo?" }];
      const first = terminal(await collect(registry.stream({ model, messages: history })));
      expect(first.type === "done" && first.stopReason).toBe("tool_calls");
      if (first.type !== "done") return;
      expect(first.message.toolCalls?.[0]?.arguments).toEqual({ city: "Oslo" });
      history.push(first.message, {
        role: "tool",
        toolCallId: "call_w",
        name: "weather",
        content: "sunny",
        isError: false,
      });
      const events = await collect(registry.stream({ model, messages: history }));
      expect(textOf(events)).toBe("It is sunny.");
      expect(terminal(events).type).toBe("done");
    }
    fake.route(() => undefined);
  });
});

describe("fixtures", () => {
  test("every copied recording matches the SHA-256 list in its README", () => {
    const readme = readFileSync(join(FIXTURES_DIR, "README.md"), "utf8");
    const block = readme.split("## SHA-256")[1]!.split("```")[1]!;
    const lines = block.trim().split("\n");
    expect(lines.length).toBe(26);
    for (const line of lines) {
      const [hash, file] = line.trim().split(/\s+/);
      const actual = createHash("sha256")
        .update(readFileSync(join(FIXTURES_DIR, file!)))
        .digest("hex");
      expect(`${actual}  ${file}`).toBe(`${hash}  ${file}`);
    }
  });
});
