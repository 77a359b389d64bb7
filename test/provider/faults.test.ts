/**
 * Failure behaviour of the shared HTTP path, against a real local server:
 * retries before the first byte (429 + Retry-After, 503s until give-up,
 * refused connections, first-byte timeout), none after it (reset
 * mid-stream), idle timeout, cancellation at every phase, and secrets kept
 * out of every error and log line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { retryAfterMs } from "../../src/provider/http.ts";
import { errorReply, FakeProvider, fixtureReply, FIXTURES_DIR, gate } from "../helpers/fake-provider.ts";
import { collect, terminal, textOf } from "../helpers/provider-events.ts";
import { anthropicAt, CapturingLog, openaiAt, TEST_KEY } from "./setup.ts";

const TEXT_FIXTURE = "openai/chat-text-gpt-4o-2024-09.sse";
const ask = { model: "gpt-4o", messages: [{ role: "user" as const, content: "hi" }] };

let fake: FakeProvider;
beforeAll(async () => {
  fake = await FakeProvider.start();
});
afterAll(async () => {
  await fake.stop();
});

/** A port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("retries before the first byte", () => {
  test("429 with Retry-After: 1 waits that long, then succeeds", async () => {
    const before = fake.requests.length;
    fake.enqueue(
      errorReply(
        429,
        { error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } },
        { "retry-after": "1" },
      ),
      fixtureReply(TEXT_FIXTURE),
    );
    const started = Date.now();
    const events = await collect(openaiAt(fake.url, { maxRetries: 2 }).stream(ask));
    // Backoff base is 5 ms, so only Retry-After explains a ~1 s wait.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(terminal(events).type).toBe("done");
    expect(fake.requests.length - before).toBe(2);
    expect(events.filter((e) => e.type === "start").length).toBe(1);
  });

  test("503 three times: gives up after max_retries with the last error", async () => {
    const before = fake.requests.length;
    const log = new CapturingLog();
    fake.enqueue(
      errorReply(503, { error: { message: "overloaded (1)", type: "server_error" } }),
      errorReply(503, { error: { message: "overloaded (2)", type: "server_error" } }),
      errorReply(503, { error: { message: "overloaded (3)", type: "server_error" } }),
    );
    const events = await collect(openaiAt(fake.url, { maxRetries: 2, log }).stream(ask));
    expect(fake.requests.length - before).toBe(3);
    expect(events.length).toBe(1);
    const end = terminal(events);
    expect(end.type === "error" && end.error).toEqual({
      status: 503,
      message: "overloaded (3)",
      code: "server_error",
      retryable: true,
    });
    expect(log.lines.length).toBe(2);
  });

  test("Retry-After as an HTTP date, retry-after-ms, and seconds", () => {
    const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
    expect(retryAfterMs(new Headers({ "retry-after": "Wed, 21 Oct 2015 07:28:03 GMT" }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ "retry-after": "2" }), now)).toBe(2000);
    expect(retryAfterMs(new Headers({ "retry-after-ms": "150", "retry-after": "9" }), now)).toBe(150);
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
  });

  test("a Retry-After beyond the cap is not waited for", async () => {
    const before = fake.requests.length;
    fake.enqueue(
      errorReply(429, { error: { message: "quota", type: "insufficient_quota" } }, { "retry-after": "3600" }),
    );
    const started = Date.now();
    const end = terminal(await collect(openaiAt(fake.url, { maxRetries: 2 }).stream(ask)));
    expect(Date.now() - started).toBeLessThan(500);
    expect(end.type === "error" && end.error.status).toBe(429);
    expect(fake.requests.length - before).toBe(1);
  });

  test("connection refused is retried, then reported", async () => {
    const port = await deadPort();
    const log = new CapturingLog();
    const end = terminal(await collect(openaiAt(`http://127.0.0.1:${port}`, { maxRetries: 2, log }).stream(ask)));
    expect(end.type === "error" && end.error).toMatchObject({ code: "connection_error", retryable: true });
    expect(log.lines.length).toBe(2);
  });

  test("first-byte timeout: no headers in time → retryable error; retried when allowed", async () => {
    fake.enqueue({ kind: "silent" });
    const started = Date.now();
    const end = terminal(await collect(openaiAt(fake.url, { firstByteTimeoutMs: 150 }).stream(ask)));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(end.type === "error" && end.error).toMatchObject({ code: "first_byte_timeout", retryable: true });
    expect(end.type === "error" && end.error.message).toContain("first-byte timeout");

    fake.enqueue({ kind: "silent" }, fixtureReply(TEXT_FIXTURE));
    const retried = terminal(await collect(openaiAt(fake.url, { firstByteTimeoutMs: 150, maxRetries: 1 }).stream(ask)));
    expect(retried.type).toBe("done");
  });
});

describe("after the first byte", () => {
  test("connection reset mid-stream: error event, partial text kept, no retry", async () => {
    const before = fake.requests.length;
    const bytes = readFileSync(join(FIXTURES_DIR, TEXT_FIXTURE));
    fake.enqueue({ kind: "reset", body: bytes, afterBytes: 3000 });
    const events = await collect(openaiAt(fake.url, { maxRetries: 2 }).stream(ask));
    const end = terminal(events);
    expect(end.type).toBe("error");
    if (end.type !== "error") return;
    expect(end.stopReason).toBe("error");
    expect(end.error).toMatchObject({ code: "connection_reset", retryable: true });
    expect(textOf(events).length).toBeGreaterThan(0);
    expect(end.message.content).toBe(textOf(events));
    // A retry would have shown up here as a second request.
    expect(fake.requests.length - before).toBe(1);
  });

  test("headers then silence: idle timeout ends the stream and closes the connection", async () => {
    fake.enqueue({ kind: "hang" });
    const closed = fake.waitForClientClose();
    const started = Date.now();
    const events = await collect(
      anthropicAt(fake.url, { idleTimeoutMs: 150 }).stream({ ...ask, model: "claude-sonnet-4-5" }),
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(events[0]!.type).toBe("start");
    const end = terminal(events);
    expect(end.type === "error" && end.error).toMatchObject({ code: "idle_timeout", retryable: true });
    expect(end.type === "error" && end.error.message).toContain("idle timeout");
    await closed;
  });

  test("a slow stream within the idle timeout is fine", async () => {
    fake.enqueue(fixtureReply("openai/chat-finish-length-2024-09.sse", { chunkSizes: [200], chunkDelayMs: 30 }));
    const end = terminal(await collect(openaiAt(fake.url, { idleTimeoutMs: 300 }).stream(ask)));
    expect(end.type).toBe("done");
  });
});

describe("cancellation", () => {
  test("abort mid-stream: aborted at once and the server sees the connection close", async () => {
    fake.enqueue(fixtureReply(TEXT_FIXTURE, { chunkSizes: [300], chunkDelayMs: 40 }));
    const controller = new AbortController();
    const closed = fake.waitForClientClose();
    const events = [];
    let abortedAt = 0;
    for await (const event of openaiAt(fake.url).stream(ask, controller.signal)) {
      events.push(event);
      if (event.type === "text_delta" && abortedAt === 0) {
        abortedAt = Date.now();
        controller.abort();
      }
    }
    expect(Date.now() - abortedAt).toBeLessThan(200);
    const end = terminal(events);
    expect(end.type === "error" && end.stopReason).toBe("aborted");
    expect(end.type === "error" && end.error.retryable).toBe(false);
    await closed;
  });

  test("abort while waiting for headers, and during a backoff wait", async () => {
    const held = gate();
    fake.enqueue({ kind: "error", status: 500, body: { error: { message: "late" } }, gate: held.promise });
    const c1 = new AbortController();
    setTimeout(() => c1.abort(), 50);
    const end1 = terminal(await collect(openaiAt(fake.url).stream(ask, c1.signal)));
    expect(end1.type === "error" && end1.stopReason).toBe("aborted");
    held.release();

    fake.enqueue(errorReply(503, { error: { message: "busy" } }, { "retry-after": "30" }));
    const c2 = new AbortController();
    setTimeout(() => c2.abort(), 100);
    const started = Date.now();
    const end2 = terminal(await collect(openaiAt(fake.url, { maxRetries: 2 }).stream(ask, c2.signal)));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(end2.type === "error" && end2.stopReason).toBe("aborted");
  });

  test("an already-aborted signal sends no request", async () => {
    const before = fake.requests.length;
    const end = terminal(await collect(openaiAt(fake.url).stream(ask, AbortSignal.abort())));
    expect(end.type === "error" && end.stopReason).toBe("aborted");
    expect(fake.requests.length).toBe(before);
  });
});

describe("secrets", () => {
  test("the API key never appears in errors, events or log lines", async () => {
    const log = new CapturingLog();
    // Hand-built: a proxy that echoes the key back in its error message and its retry body.
    fake.enqueue(
      errorReply(503, `upstream rejected key ${TEST_KEY}`),
      errorReply(401, {
        error: {
          message: `Incorrect API key provided: ${TEST_KEY}.`,
          type: "invalid_request_error",
          code: "invalid_api_key",
        },
      }),
    );
    const events = await collect(openaiAt(fake.url, { maxRetries: 1, log }).stream(ask));
    const end = terminal(events);
    expect(end.type === "error" && end.error.message).toBe("Incorrect API key provided: ***.");
    expect(JSON.stringify(events)).not.toContain(TEST_KEY);
    expect(log.lines.length).toBe(1);
    expect(log.lines.join("\n")).not.toContain(TEST_KEY);
    expect(log.lines.join("\n")).toContain("upstream rejected key ***");
  });
});
