/**
 * Shared wiring for provider tests: one fake server per test file, a
 * provider of either API pointed at it, and a test key that must never
 * show up in an error or a log line.
 */
import { createAnthropicProvider } from "../../src/provider/anthropic.ts";
import type { HttpLog, HttpOptions } from "../../src/provider/http.ts";
import { createOpenAIChatProvider } from "../../src/provider/openai-chat.ts";
import type { Message, Provider } from "../../src/provider/types.ts";

export const TEST_KEY = "sk-test-0123456789abcdefSECRET";

/** Captures what the HTTP layer logs, so tests can check it for secrets. */
export class CapturingLog implements HttpLog {
  readonly lines: string[] = [];
  warn(message: string): void {
    this.lines.push(message);
  }
  debug(message: string): void {
    this.lines.push(message);
  }
}

export function httpOptions(overrides: Partial<HttpOptions> = {}): HttpOptions {
  return {
    maxRetries: 0,
    firstByteTimeoutMs: 2_000,
    idleTimeoutMs: 2_000,
    backoffBaseMs: 5,
    secrets: [TEST_KEY],
    log: new CapturingLog(),
    ...overrides,
  };
}

export function openaiAt(url: string, overrides: Partial<HttpOptions> = {}): Provider {
  return createOpenAIChatProvider({
    name: "openai",
    baseUrl: `${url}/v1`,
    apiKey: TEST_KEY,
    http: httpOptions(overrides),
  });
}

export function anthropicAt(url: string, overrides: Partial<HttpOptions> = {}): Provider {
  return createAnthropicProvider({ name: "anthropic", baseUrl: url, apiKey: TEST_KEY, http: httpOptions(overrides) });
}

/**
 * A conversation of `n` rounds with everything a request body must carry
 * exactly: quotes, backslashes, non-ASCII, U+2028, a lone surrogate, tool
 * calls (one with empty text) and their results, error results.
 */
export function mixedHistory(n: number): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ role: "user", content: `question ${i}: "quoted", back\\slash, café 🦀 \u2028 \ud83e`, timestamp: i });
    if (i % 3 === 0) {
      out.push({
        role: "assistant",
        content: i % 2 ? "" : "let me look",
        toolCalls: [{ id: `c${i}`, name: "read", arguments: { path: "a" }, rawArguments: '{"path":"a"}' }],
        model: "m",
      });
      out.push({ role: "tool", toolCallId: `c${i}`, name: "read", content: `file ${i}`, isError: i % 2 === 0 });
    }
    out.push({ role: "assistant", content: `answer ${i}`, model: "m", stopReason: "stop" });
  }
  return out;
}
