/**
 * Issue 13: a hook that errors or times out never fails the turn. An
 * extension whose build_agent answers ExtError and whose before_run,
 * after_run and compact never answer (timeout_ms = 500) sits beside a
 * healthy one: turns and a compaction complete, the healthy extension's
 * hooks still apply, and each failure is in the daemon log. Also: two
 * extensions offering the same tool name: the second registration is
 * refused with a log line naming the holder, never silently shadowed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { contentText, endOf, messagesOf, sessionOf, streamTurn, turnConfig, waitFor } from "../helpers/turn-kit.ts";
import { services, serviceSection, waitState } from "./ext-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let c: CrabtalkClient;
const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({
    config:
      turnConfig(fake.url) +
      serviceSection("bad", "probe.ts", ["--name", "bad", "--bad-hooks"], "timeout_ms = 500") +
      serviceSection("good", "probe.ts", ["--name", "good"]) +
      serviceSection("dup1", "probe.ts", ["--name", "dup"]) +
      serviceSection("dup2", "probe.ts", ["--name", "dup"]),
  });
  c = await d.client();
  await waitState(c, "bad", "running");
  await waitState(c, "good", "running");
  await waitState(c, "dup1", "running");
  await waitState(c, "dup2", "running");
});
afterAll(async () => {
  c?.close();
  await d.cleanup();
  await fake.stop();
});

test("failing and hanging hooks: the turn completes, bounded by the hook timeout, with the healthy hooks applied", async () => {
  fake.enqueue(reply({ text: "answer" }));
  const before = fake.requests.length;
  const t0 = Date.now();
  const events = await streamTurn(c, { content: "hello" });
  const ms = Date.now() - t0;
  expect(endOf(events).stopReason).toBe("stop");
  expect(ms).toBeLessThan(3000);
  const texts = messagesOf(fake.requests[before]!).map(contentText);
  expect(texts).toContain("INJECTED-BY-good");
  expect(texts).not.toContain("INJECTED-BY-bad");
  expect(texts.join("\n")).toContain("PROMPT-ADDITION-FROM-good");
  await waitFor(() => d.stderr().includes("hook ext:bad failed in beforeRun"), 5000, "the beforeRun failure logged");
  expect(d.stderr()).toMatch(/hook ext:bad failed in buildAgent: .*build_agent broke on purpose/);
  await waitFor(() => d.stderr().includes("hook ext:bad failed in afterRun"), 5000, "the afterRun timeout logged");
  fake.enqueue(reply({ text: "summary" }));
  await c.request({ compact: { session: sessionOf(events) } });
  await waitFor(() => d.stderr().includes("hook ext:bad failed in compactionPrompt"), 5000, "compact timeout logged");
});

test("a tool name another extension holds is refused at registration, with a log line", async () => {
  const holders = (await services(c)).filter((s) => s.tools.includes("dup_echo")).map((s) => s.name);
  expect(holders).toHaveLength(1);
  const loser = holders[0] === "dup1" ? "dup2" : "dup1";
  await d.waitLog(`${loser}: tool dup_echo refused: the name is taken by extension ${holders[0]}; rename one of them`);
});
