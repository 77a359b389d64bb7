/**
 * Turns what a provider says went wrong into one ProviderError: an HTTP
 * error body (OpenAI `{error:{message,type,code}}`, Anthropic
 * `{type:"error",error:{type,message}}`, OpenRouter numeric codes, Ollama's
 * `{error:"..."}`), an error object inside a 200 stream, or a local network
 * failure. The provider's own words are kept (they are what the user can
 * act on); every message is redacted before it leaves this file.
 *
 * Retry policy lives here too: 408, 409, 429 and 5xx (including Anthropic's
 * 529 overloaded) are worth another attempt; any other 4xx means the request
 * itself is wrong (bad key, unknown model, invalid body) and will fail again.
 */
import { redact } from "../util/redact.ts";
import type { ProviderError } from "./types.ts";

/** Longest slice of a non-JSON error body we quote; HTML error pages are long. */
const MAX_QUOTED_BODY = 500;

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

interface Extracted {
  message?: string;
  code?: string;
  numericCode?: number;
}

/** Reads message and type/code out of the error shapes providers use. */
function extract(payload: unknown): Extracted {
  if (typeof payload !== "object" || payload === null) return {};
  const top = payload as Record<string, unknown>;
  const inner = top.error;
  if (typeof inner === "string") return { message: inner };
  if (typeof inner === "object" && inner !== null) {
    const e = inner as Record<string, unknown>;
    const out: Extracted = {};
    if (typeof e.message === "string") out.message = e.message;
    // OpenAI: code is the specific reason ("invalid_api_key"), type the class.
    if (typeof e.code === "string") out.code = e.code;
    else if (typeof e.type === "string") out.code = e.type;
    if (typeof e.code === "number") out.numericCode = e.code;
    return out;
  }
  if (typeof top.message === "string") {
    const out: Extracted = { message: top.message };
    if (typeof top.code === "string") out.code = top.code;
    if (typeof top.type === "string" && top.type !== "error") out.code ??= top.type;
    return out;
  }
  return {};
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** An HTTP error response (status >= 400) as a ProviderError. */
export function errorFromResponse(
  status: number,
  statusText: string,
  body: string,
  secrets: readonly string[],
): ProviderError {
  const found = extract(tryJson(body));
  const trimmed = body.trim();
  const fallback =
    trimmed.length > 0 ? trimmed.slice(0, MAX_QUOTED_BODY) : `HTTP ${status}${statusText ? ` ${statusText}` : ""}`;
  const error: ProviderError = {
    status,
    message: redact(found.message ?? fallback, secrets),
    retryable: isRetryableStatus(status),
  };
  if (found.code !== undefined) error.code = found.code;
  else if (found.numericCode !== undefined) error.code = String(found.numericCode);
  return error;
}

/** Error types Anthropic sends in a stream that a later attempt may not hit. */
const RETRYABLE_STREAM_TYPES = new Set([
  "overloaded_error",
  "api_error",
  "rate_limit_error",
  "timeout_error",
  "server_error",
]);

/**
 * An error delivered inside an HTTP 200 stream: a chunk with a top-level
 * `error` object (OpenRouter, OpenAI-compatible proxies) or an
 * `event: error` payload (Anthropic, Groq). There is no HTTP status to report.
 */
export function errorFromStreamPayload(payload: unknown, secrets: readonly string[]): ProviderError {
  const found = extract(payload);
  const numeric = found.numericCode;
  const retryable =
    (found.code !== undefined && RETRYABLE_STREAM_TYPES.has(found.code)) ||
    (numeric !== undefined && isRetryableStatus(numeric));
  const error: ProviderError = {
    message: redact(found.message ?? "the provider reported an error in the stream", secrets),
    retryable,
  };
  if (found.code !== undefined) error.code = found.code;
  else if (numeric !== undefined) error.code = String(numeric);
  return error;
}

/** A local failure (connection refused, reset, timeout) with no provider message. */
export function networkError(
  message: string,
  code: string,
  retryable: boolean,
  secrets: readonly string[],
): ProviderError {
  return { message: redact(message, secrets), code, retryable };
}

/** The error a cancelled request ends with. */
export function abortedError(): ProviderError {
  return { message: "request aborted", code: "aborted", retryable: false };
}
