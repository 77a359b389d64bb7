/**
 * Issue 4 acceptance, approvals through the compiled daemon with
 * `[permissions] bash = "ask"`: the client running the turn gets an
 * ApprovalRequest and answers ApproveMsg by call id; allowed runs the tool,
 * denied and timed out (approval_timeout_ms = 1500) do not, and the model
 * reads why; a non-interactive sender is denied without waiting.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import type { StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { endOf, kinds, streamTurn, toolResultsOf, turnConfig } from "../helpers/turn-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({ config: `${turnConfig(fake.url)}\n[permissions]\nbash = "ask"\n` });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

const marker = () => join(d.home, "work", "approved.marker");

/** Scripts one bash call that creates the marker, then a text answer. */
function scriptCall(callId: string): number {
  rmSync(marker(), { force: true });
  fake.enqueue(
    sseReply(
      openaiSse({
        model: "fake-model",
        toolCalls: [{ id: callId, name: "bash", args: { command: "touch approved.marker && echo ran" } }],
      }),
    ),
    sseReply(openaiSse({ model: "fake-model", text: "noted" })),
  );
  return fake.requests.length;
}

/** Runs a turn, answering its approval request with `answer` (or not at all). */
async function turnAnswering(
  c: CrabtalkClient,
  answer: { response: string; reason?: string } | null,
  sender?: string,
): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const r of c.stream({ stream: { agent: "crab", content: "do it", sender } })) {
    if (!r.stream) continue;
    events.push(r.stream);
    const ask = r.stream.approval;
    if (ask && answer) {
      const ack = await c.request({
        approve: { callId: ask.callId, response: answer.response, reason: answer.reason, session: r.stream.session },
      });
      expect(ack.ack!.message).toContain(ask.callId);
    }
  }
  return events;
}

describe("ask", () => {
  test("approved: the request names call, tool and arguments; the tool runs", async () => {
    const before = scriptCall("call_ok");
    const c = await d.client();
    const events = await turnAnswering(c, { response: "allow" });
    c.close();
    const ask = events.find((e) => e.approval)!.approval!;
    expect(ask.callId).toBe("call_ok");
    expect(ask.tool).toBe("bash");
    expect(JSON.parse(ask.arguments)).toEqual({ command: "touch approved.marker && echo ran" });
    expect(Number(ask.timeoutMs)).toBe(1500);
    expect(kinds(events).indexOf("approval")).toBeLessThan(kinds(events).indexOf("toolResult"));
    const result = events.find((e) => e.toolResult)!.toolResult!;
    expect(result.isError).toBe(false);
    expect(result.output).toContain("ran");
    expect(existsSync(marker())).toBe(true);
    expect(toolResultsOf(fake.requests[before + 1]!)[0]!.text).toContain("ran");
    expect(endOf(events).stopReason).toBe("stop");
  });

  test("denied with a reason: the tool does not run, the model reads the reason", async () => {
    const before = scriptCall("call_no");
    const c = await d.client();
    const events = await turnAnswering(c, { response: "deny", reason: "not on my machine" });
    c.close();
    expect(existsSync(marker())).toBe(false);
    const result = events.find((e) => e.toolResult)!.toolResult!;
    expect(result.isError).toBe(true);
    expect(result.output).toContain("denied by the user: not on my machine");
    expect(toolResultsOf(fake.requests[before + 1]!)[0]!.text).toContain("denied by the user: not on my machine");
    expect(endOf(events).stopReason).toBe("stop");
  });

  test("no answer within approval_timeout_ms: denied, the model is told nobody answered", async () => {
    const before = scriptCall("call_late");
    const c = await d.client();
    const t0 = Date.now();
    const events = await turnAnswering(c, null);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(10_000);
    expect(existsSync(marker())).toBe(false);
    expect(events.some((e) => e.approval)).toBe(true);
    const text = toolResultsOf(fake.requests[before + 1]!)[0]!.text;
    expect(text).toContain("nobody answered the approval request");
    // A late answer finds nothing waiting; an answer that does not say which session's call is refused.
    const session = events[0]!.session;
    await expect(c.request({ approve: { callId: "call_late", response: "allow", session } })).rejects.toMatchObject({
      code: 404,
    });
    await expect(c.request({ approve: { callId: "call_late", response: "allow" } })).rejects.toMatchObject({
      code: 400,
      message: expect.stringContaining("approve needs session"),
    });
    c.close();
  });

  test("a non-interactive sender (cron) is denied at once, without an approval request", async () => {
    const before = scriptCall("call_cron");
    const c = await d.client();
    const t0 = Date.now();
    const events = await streamTurn(c, { content: "nightly job", sender: "cron" });
    c.close();
    expect(Date.now() - t0).toBeLessThan(1400);
    expect(events.some((e) => e.approval)).toBe(false);
    expect(existsSync(marker())).toBe(false);
    expect(events[0]!.start!.sender).toBe("cron");
    const text = toolResultsOf(fake.requests[before + 1]!)[0]!.text;
    expect(text).toContain("denied");
    expect(text).toContain("no interactive client");
    expect(endOf(events).stopReason).toBe("stop");
  });
});
