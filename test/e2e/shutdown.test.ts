/**
 * Orderly shutdown with a turn in flight: SIGTERM stops accepting, lets the
 * turn finish within the grace period (its client still gets the end), puts
 * it on disk, removes socket, port and lock files, and exits 0. A turn that
 * outlives the grace period is cancelled and recorded as aborted.
 */
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import type { StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { endOf, kinds, streamTurn, textOf, turnConfig, waitFor } from "../helpers/turn-kit.ts";

test("SIGTERM lets a running turn finish, saves it, and leaves no runtime files", async () => {
  await using fake = await FakeProvider.start();
  // About 1.2 s of streaming: 40 deltas, 30 ms apart.
  fake.enqueue(
    sseReply(openaiSse({ text: "a slow and careful answer that takes a while", textDeltas: 40 }), {
      chunkSizes: [60],
      chunkDelayMs: 30,
    }),
  );
  const home = tempHome();
  const d = await startDaemon({ home, config: turnConfig(fake.url, "", "shutdown_grace_ms = 10000") });
  const client = await d.client();
  // SIGTERM once the client holds the first text delta, so the turn is mid-stream when it lands.
  const events: StreamEvent[] = [];
  let exited: Promise<number> | undefined;
  let loggedBeforeEnd = false;
  for await (const reply of client.stream({ stream: { agent: "crab", content: "go slowly" } })) {
    if (!reply.stream) continue;
    events.push(reply.stream);
    if (reply.stream.chunk && !exited) exited = d.stop("SIGTERM");
    if (reply.stream.end) loggedBeforeEnd = d.stderr().includes("shutting down (SIGTERM)");
  }
  if (!exited) throw new Error(`the turn ended without streaming any text: ${kinds(events).join(",")}`);
  // The daemon was already shutting down when the turn ended: the turn ran on through it.
  expect(loggedBeforeEnd).toBe(true);
  expect(endOf(events).stopReason).toBe("stop");
  expect(textOf(events)).toBe("a slow and careful answer that takes a while");
  expect(await exited).toBe(0);
  expect(readdirSync(home).filter((f) => /^crabtalk\.(sock|tcp|lock)$/.test(f))).toEqual([]);
  const file = readdirSync(join(home, "sessions")).find((f) => f.endsWith(".jsonl"))!;
  expect(readFileSync(join(home, "sessions", file), "utf8")).toContain("a slow and careful answer that takes a while");
  await d.cleanup();
}, 30_000);

test("a turn that outlives the grace period is cancelled, recorded as aborted, and the daemon still exits 0", async () => {
  await using fake = await FakeProvider.start();
  fake.enqueue({ kind: "hang" });
  const home = tempHome();
  const d = await startDaemon({ home, config: turnConfig(fake.url, "", "shutdown_grace_ms = 300") });
  const client = await d.client();
  const turn = streamTurn(client, { content: "never answered" });
  await fake.waitForRequests(1);
  const started = Date.now();
  expect(await d.stop("SIGTERM")).toBe(0);
  expect(Date.now() - started).toBeLessThan(8000);
  // The requester hears how its turn ended before the daemon goes away.
  const events = await turn;
  expect(endOf(events).stopReason).toBe("aborted");
  expect(existsSync(join(home, "crabtalk.sock"))).toBe(false);
  const file = readdirSync(join(home, "sessions")).find((f) => f.endsWith(".jsonl"))!;
  expect(readFileSync(join(home, "sessions", file), "utf8")).toContain('"stopReason":"aborted"');
  await d.cleanup();
}, 30_000);

test("a second SIGTERM during the grace period exits at once with 1, still removing socket and lock", async () => {
  await using fake = await FakeProvider.start();
  fake.enqueue({ kind: "hang" });
  const home = tempHome();
  const d = await startDaemon({ home, config: turnConfig(fake.url, "", "shutdown_grace_ms = 20000") });
  const client = await d.client();
  void streamTurn(client, { content: "never answered" }).catch(() => []);
  await fake.waitForRequests(1);
  d.proc.kill("SIGTERM");
  await waitFor(() => d.stderr().includes("shutting down (SIGTERM)"), 10_000, "the daemon to log its shutdown");
  expect(d.proc.exitCode).toBeNull(); // still in its grace period
  const started = Date.now();
  expect(await d.stop("SIGTERM")).toBe(1);
  expect(Date.now() - started).toBeLessThan(3000);
  expect(readdirSync(home).filter((f) => /^crabtalk\.(sock|tcp|lock)$/.test(f))).toEqual([]);
  await d.cleanup();
}, 30_000);
