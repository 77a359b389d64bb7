/**
 * Issue 4 acceptance, token guardrails through the compiled daemon:
 * `max_tokens_per_turn` stops a turn with stop reason token_budget (the
 * announced tool calls are not run); once `[budget] daily_tokens` is spent
 * new turns are refused with 429 and the reset time, also after a restart;
 * `crabtalk usage` shows today's tokens per agent and model, the budget and
 * when it resets.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DaemonError } from "../../src/client/client.ts";
import { runCli, startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { endOf, sessionOf, streamTurn, turnConfig } from "../helpers/turn-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;

const CONFIG = (url: string) => `${turnConfig(url, "max_tokens_per_turn = 500")}\n[budget]\ndaily_tokens = 1000\n`;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({ config: CONFIG(fake.url) });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

function nextLocalMidnight(): number {
  const m = new Date();
  m.setHours(24, 0, 0, 0);
  return m.getTime();
}

let session = 0;

describe("token budgets", () => {
  test("max_tokens_per_turn: a turn past it stops with token_budget, its tool calls are not run", async () => {
    fake.enqueue(
      sseReply(
        openaiSse({
          model: "fake-model",
          toolCalls: [{ id: "call_1", name: "bash", args: { command: "touch ran.marker" } }],
          usage: { prompt: 400, completion: 200 },
        }),
      ),
    );
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { content: "expensive" });
    c.close();
    session = sessionOf(events);
    const end = endOf(events);
    expect(end.stopReason).toBe("token_budget");
    expect(Number(end.usage!.promptTokens) + Number(end.usage!.completionTokens)).toBe(600);
    const result = events.find((e) => e.toolResult)!.toolResult!;
    expect(result.isError).toBe(true);
    expect(result.output).toContain("token budget");
    expect(existsSync(join(d.home, "work", "ran.marker"))).toBe(false);
    // No second model call.
    expect(fake.requests.length).toBe(before + 1);
  });

  test("daily_tokens spent: new turns are refused with 429 and when the budget resets", async () => {
    fake.enqueue(
      sseReply(openaiSse({ model: "fake-model", text: "cheap answer", usage: { prompt: 300, completion: 150 } })),
    );
    const c = await d.client();
    const ok = await streamTurn(c, { content: "one more", session });
    expect(endOf(ok).stopReason).toBe("stop");
    const before = fake.requests.length;

    const resets = new Date(nextLocalMidnight()).toString();
    for (const attempt of [
      () => c.request({ stream: { agent: "crab", content: "again" } }),
      () => c.request({ stream: { agent: "crab", content: "again", session } }),
      () => c.request({ send: { agent: "crab", content: "again" } }),
    ]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DaemonError);
      expect((err as DaemonError).code).toBe(429);
      expect((err as DaemonError).message).toContain("daily token budget of 1000 tokens is spent (1050 used today)");
      expect((err as DaemonError).message).toContain(`resets at local midnight, ${resets}`);
    }
    // Refused before any model call.
    expect(fake.requests.length).toBe(before);
    c.close();
  });

  test("crabtalk usage: tokens per agent and model, the budget and its reset; --json for scripts", async () => {
    const text = await runCli(["usage"], { CRABTALK_HOME: d.home });
    expect(text.code).toBe(0);
    const lines = text.stdout.split("\n");
    expect(lines[0]).toMatch(/^tokens used today \(\d{4}-\d{2}-\d{2}\)$/);
    expect(lines[1]).toMatch(/^agent\s+model\s+prompt\s+completion\s+cache read\s+total\s+calls$/);
    expect(lines[2]).toMatch(/^crab\s+fake-model\s+700\s+350\s+0\s+1,050\s+2$/);
    expect(text.stdout).toContain("daily budget: 1,050 of 1,000 tokens (spent: new turns are refused); resets at ");
    const m = new Date(nextLocalMidnight());
    const pad = (n: number) => String(n).padStart(2, "0");
    expect(text.stdout).toContain(`${m.getFullYear()}-${pad(m.getMonth() + 1)}-${pad(m.getDate())} 00:00 local time`);

    const json = await runCli(["usage", "--json"], { CRABTALK_HOME: d.home });
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.dailyLimit).toBe(1000);
    expect(report.usedToday).toBe(1050);
    expect(report.resetsAtMs).toBe(nextLocalMidnight());
    expect(report.rows).toEqual([
      {
        agent: "crab",
        model: "fake-model",
        usage: expect.objectContaining({ promptTokens: 700, completionTokens: 350 }),
        turns: 2,
      },
    ]);
  });

  test("the spent budget survives a restart", async () => {
    expect(await d.stop()).toBe(0);
    await using again = await startDaemon({ home: d.home });
    const c = await again.client();
    const err = await c.request({ stream: { agent: "crab", content: "after restart" } }).catch((e: unknown) => e);
    c.close();
    expect((err as DaemonError).code).toBe(429);
    const usage = await runCli(["usage", "--json"], { CRABTALK_HOME: d.home });
    expect(JSON.parse(usage.stdout).usedToday).toBe(1050);
  });

  test("crabtalk usage with no budget and no calls says so", async () => {
    await using plain = await startDaemon({ config: turnConfig(fake.url) });
    const text = await runCli(["usage"], { CRABTALK_HOME: plain.home });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("no model calls yet today");
    expect(text.stdout).toContain("0 tokens today; no daily budget (set [budget] daily_tokens in crabtalk.toml)");
    const stopped = await runCli(["usage"], { CRABTALK_HOME: join(plain.home, "nowhere") });
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain("daemon is not running");
  });
});
