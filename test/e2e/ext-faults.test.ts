/**
 * Issue 13 acceptance, faults: extensions that misbehave, each while the
 * daemon and the other services keep serving. One exits in the middle of
 * a call (the call fails at once, not at its timeout, and the extension is
 * restarted), one hangs (service timeout; a late reply is dropped, not
 * taken for the next call's), one writes garbage frames, one never finishes
 * the handshake, one stops reading its events (a flood it cannot take:
 * turns are not slowed and the dropped events are counted), one is down for
 * good (its tools answer "unavailable", not "unknown"), and a one-at-a-time
 * extension that times out is restarted rather than desynchronized.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { endOf, floodSse, streamTurn, toolResultsOf, turnConfig } from "../helpers/turn-kit.ts";
import { observed, service, serviceSection, waitState } from "./ext-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let c: CrabtalkClient;
let started = 0;
const home = tempHome();
const record = join(home, "flood.jsonl");

const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

/** Runs one turn whose model calls `tool` once, and returns the tool result text and its duration. */
async function callTool(tool: string, args: Record<string, unknown> = {}): Promise<{ text: string; ms: number }> {
  fake.enqueue(reply({ toolCalls: [{ id: `call_${tool}`, name: tool, args }] }), reply({ text: "ok" }));
  const before = fake.requests.length;
  const events = await streamTurn(c, { content: `call ${tool}` });
  const result = events.find((e) => e.toolResult)?.toolResult;
  return { text: toolResultsOf(fake.requests[before + 1]!)[0]!.text, ms: Number(result?.durationMs ?? -1) };
}

beforeAll(async () => {
  fake = await FakeProvider.start();
  started = Date.now();
  d = await startDaemon({
    home,
    config:
      turnConfig(fake.url, 'tools = ["probe/*", "other/*", "crashy/*", "reference/*"]') +
      serviceSection("probe", "probe.ts", [], "timeout_ms = 1500") +
      serviceSection("other", "probe.ts", ["--name", "other"]) +
      serviceSection("silent", "probe.ts", ["--name", "silent", "--no-handshake"], 'restart = "never"') +
      serviceSection("crashy", "probe.ts", ["--name", "crashy"], 'restart = "never"') +
      serviceSection(
        "flood",
        "probe.ts",
        ["--name", "flood", "--stall-events", "--record", record],
        "timeout_ms = 200",
      ) +
      serviceSection("reference", "reference.ts", [], "timeout_ms = 1000"),
  });
  c = await d.client();
  for (const name of ["probe", "other", "crashy", "flood", "reference"]) await waitState(c, name, "running");
});
afterAll(async () => {
  c?.close();
  await d.cleanup();
  await fake.stop();
});

async function otherStillServes(): Promise<void> {
  expect((await callTool("other_echo", { text: "still here" })).text).toBe("echo: still here");
}

describe("faults", () => {
  test("exits mid-call: the call fails at once as unavailable, others serve, it restarts and serves again", async () => {
    const before = await service(c, "probe");
    const { text, ms } = await callTool("probe_crash");
    expect(text).toMatch(/^service unavailable: probe \(/);
    expect(ms).toBeLessThan(1500); // not the call's timeout
    await otherStillServes();
    const after = await waitState(c, "probe", "running", 10_000, (s) => s.pid !== before.pid);
    expect(after.restarts).toBe(before.restarts + 1);
    expect(after.lastExitCode).toBe(7);
    expect((await callTool("probe_echo", { text: "back" })).text).toBe("echo: back");
  });

  test("hangs: service timeout after timeout_ms; a late reply is dropped, not taken for the next call's", async () => {
    const hang = await callTool("probe_hang");
    expect(hang.text).toBe("service timeout: probe");
    expect(hang.ms).toBeGreaterThanOrEqual(1400);
    const late = await callTool("probe_slow", { ms: 2000 });
    expect(late.text).toBe("service timeout: probe");
    // The slow reply arrives while this call is in flight; this call still gets its own answer.
    const next = await callTool("probe_slow", { ms: 800 });
    expect(next.text).toBe("slept 800");
    await otherStillServes();
  });

  test("garbage frames: the call fails at once, the reason is in its status, it restarts", async () => {
    const before = await service(c, "probe");
    const { text, ms } = await callTool("probe_garbage");
    expect(text).toMatch(/^service unavailable: probe/);
    expect(ms).toBeLessThan(1500);
    const after = await waitState(c, "probe", "running", 10_000, (s) => s.pid !== before.pid);
    expect(after.lastError).toContain("not an ExtResponse");
    await otherStillServes();
  });

  test("a tool of a service that is down answers unavailable, not unknown", async () => {
    await callTool("crashy_crash");
    const s = await waitState(c, "crashy", "failed");
    expect(s.lastExitCode).toBe(7);
    const { text } = await callTool("crashy_echo", { text: "x" });
    expect(text).toContain("unavailable");
    expect(text).toContain("crashy is down");
    await otherStillServes();
  });

  test("a one-at-a-time extension that times out is restarted, not desynchronized", async () => {
    const before = await service(c, "reference");
    expect((await callTool("ref_slow", { ms: 3000, text: "late" })).text).toBe("service timeout: reference");
    const after = await waitState(c, "reference", "running", 10_000, (s) => s.pid !== before.pid);
    expect(after.restarts).toBe(before.restarts + 1);
    expect((await callTool("ref_upper", { text: "fresh" })).text).toBe("FRESH");
  });

  test("an observer that stops reading: turns are not slowed, dropped events are counted", async () => {
    fake.enqueue({ kind: "generate", chunks: () => floodSse(20_000, 16, 2000) });
    const t0 = Date.now();
    const events = await streamTurn(c, { content: "flood" });
    expect(endOf(events).stopReason).toBe("stop");
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(observed(record).some((o) => o.kind === "stalled")).toBe(true);
    const s = await waitState(c, "flood", "running", 10_000, (x) => Number(x.droppedEvents) > 0);
    expect(Number(s.droppedEvents)).toBeGreaterThan(0);
    await otherStillServes();
  });

  test("never finishes the handshake: failed after the 10 s step timeout, with the reason", async () => {
    const s = await waitState(c, "silent", "failed", 15_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
    expect(s.lastError).toContain("handshake");
    expect(s.lastError).toContain("10000 ms");
    await otherStillServes();
  });
});
