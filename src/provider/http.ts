/**
 * The one HTTP path every wire API uses: POST a JSON body, get back either a
 * byte stream or a ProviderError. It owns retries and timeouts so the wire
 * files only translate formats.
 *
 * Contract:
 * - Retries happen only before the response is committed: connection
 *   failures, the first-byte timeout and 408/409/429/5xx answers, with
 *   exponential backoff plus jitter, honouring `Retry-After`/`retry-after-ms`,
 *   at most `maxRetries` times. Once a 2xx status has arrived nothing is
 *   retried, because events may already have reached the user.
 * - The first-byte timeout covers the wait for response headers; the idle
 *   timeout covers every wait for the next body chunk (including the first).
 *   Both end in a retryable ProviderError with a plain-language message.
 * - Aborting the caller's signal aborts the fetch, which closes the socket at
 *   once, in whatever phase the request is (connecting, backing off, reading).
 * - Nothing here throws to the caller except through `StreamFailure`, which
 *   the chunk iterator raises and the wire files turn into a terminal event.
 */
import { anySignal, errorMessage, sleep } from "../util/abort.ts";
import { logger } from "../util/log.ts";
import { abortedError, errorFromResponse, networkError } from "./errors.ts";
import type { ProviderError } from "./types.ts";

export interface HttpLog {
  warn(message: string): void;
  debug(message: string): void;
}

export interface HttpOptions {
  maxRetries: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  /** First backoff delay; doubles per attempt. Tests inject a few ms. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A Retry-After longer than this is not waited for: the error is returned instead. */
  maxRetryAfterMs?: number;
  /** Literal secrets (API keys, header values) scrubbed from every message. */
  secrets: readonly string[];
  log?: HttpLog;
}

/** 0.5 s doubles to 1 s, 2 s, ...: a rate-limited provider recovers within a few seconds. */
const DEFAULT_BACKOFF_BASE_MS = 500;
/** Beyond ~8 s a user watching a turn is better served by a clear error than by waiting. */
const DEFAULT_BACKOFF_MAX_MS = 8_000;
/** Providers ask for up to a minute on rate limits; longer asks mean "quota gone". */
const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/** A failure while reading the body, carried to the wire parser's catch. */
export class StreamFailure extends Error {
  constructor(
    readonly error: ProviderError,
    readonly aborted: boolean,
  ) {
    super(error.message);
    this.name = "StreamFailure";
  }
}

export type OpenResult =
  | { ok: true; response: Response; chunks: AsyncIterable<Uint8Array> }
  | { ok: false; error: ProviderError; aborted: boolean };

const defaultLog = logger("provider");

/** Backoff for a 0-based attempt: base·2^attempt capped, times a jitter in [0.5, 1). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** attempt) * (0.5 + Math.random() / 2);
}

/** Milliseconds a server asked us to wait, from `retry-after-ms` or `Retry-After` (seconds or HTTP-date). */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get("retry-after");
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** POSTs `body` and returns the committed response's chunks, retrying as the contract says. */
export async function openStream(
  url: string,
  headers: Record<string, string>,
  body: string,
  opts: HttpOptions,
  signal?: AbortSignal,
): Promise<OpenResult> {
  const log = opts.log ?? defaultLog;
  const base = opts.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const max = opts.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
  const maxRetryAfter = opts.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  const aborted = (): OpenResult => ({ ok: false, error: abortedError(), aborted: true });

  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) return aborted();
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, opts.firstByteTimeoutMs);

    let error: ProviderError;
    let wait: number | undefined;
    try {
      const response = await fetch(url, { method: "POST", headers, body, signal: anySignal(signal, ctl.signal) });
      if (response.ok && response.body) {
        clearTimeout(timer);
        return { ok: true, response, chunks: readChunks(response.body, ctl, opts, signal) };
      }
      // The error body is read under the same first-byte timer: a server
      // that sends an error status and then stalls must not hang us.
      const text = await response.text();
      clearTimeout(timer);
      error = errorFromResponse(response.status, response.statusText, text, opts.secrets);
      wait = retryAfterMs(response.headers);
    } catch (err) {
      clearTimeout(timer);
      if (signal?.aborted) return aborted();
      error = timedOut
        ? networkError(
            `no response from ${hostOf(url)} within ${opts.firstByteTimeoutMs} ms (first-byte timeout)`,
            "first_byte_timeout",
            true,
            opts.secrets,
          )
        : networkError(
            `could not reach ${hostOf(url)}: ${errorMessage(err)
              .replace(/\s*Is the computer able to access the url\?/, "")
              .replace(/\.$/, "")}. Is the model server running there, and is base_url in crabtalk.toml right?`,
            "connection_error",
            true,
            opts.secrets,
          );
    }

    if (!error.retryable || attempt >= opts.maxRetries) return { ok: false, error, aborted: false };
    if (wait !== undefined && wait > maxRetryAfter) {
      log.warn(`not retrying: provider asked to wait ${Math.round(wait / 1000)} s (${error.message})`);
      return { ok: false, error, aborted: false };
    }
    const delay = wait ?? backoffDelay(attempt, base, max);
    log.warn(
      `retry ${attempt + 1}/${opts.maxRetries} in ${Math.round(delay)} ms after ${error.status ?? error.code}: ${error.message}`,
    );
    try {
      await sleep(delay, signal);
    } catch {
      return aborted();
    }
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "the provider";
  }
}

/**
 * Yields body chunks, failing with StreamFailure on idle timeout, abort or a
 * broken connection. Leaving the loop early (break, return) aborts the fetch
 * so the socket is not left open.
 */
async function* readChunks(
  body: ReadableStream<Uint8Array>,
  ctl: AbortController,
  opts: HttpOptions,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    for (;;) {
      const idle = new Promise<"idle">((resolve) => {
        timer = setTimeout(() => resolve("idle"), opts.idleTimeoutMs);
      });
      const read = reader.read();
      // If the idle timer wins, the abort in `finally` rejects this read; nobody awaits it then.
      read.catch(() => undefined);
      const result = await Promise.race([read, idle]);
      clearTimeout(timer);
      if (result === "idle") {
        throw new StreamFailure(
          networkError(
            `the provider sent nothing for ${opts.idleTimeoutMs} ms (idle timeout)`,
            "idle_timeout",
            true,
            opts.secrets,
          ),
          false,
        );
      }
      if (result.done) return;
      yield result.value;
    }
  } catch (err) {
    if (err instanceof StreamFailure) throw err;
    if (signal?.aborted) throw new StreamFailure(abortedError(), true);
    throw new StreamFailure(
      networkError(`connection lost mid-stream: ${errorMessage(err)}`, "connection_reset", true, opts.secrets),
      false,
    );
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
}
