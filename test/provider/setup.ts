/**
 * Shared wiring for provider tests: one fake server per test file, a
 * provider of either API pointed at it, and a test key that must never
 * show up in an error or a log line.
 */
import { createAnthropicProvider } from "../../src/provider/anthropic.ts";
import type { HttpLog, HttpOptions } from "../../src/provider/http.ts";
import { createOpenAIChatProvider } from "../../src/provider/openai-chat.ts";
import type { Provider } from "../../src/provider/types.ts";

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
