/**
 * The loop with the real bash tool: cancelling a turn in the middle of a
 * `sleep` kills the process (its pid is gone), the history stays valid, and
 * the next turn on that history runs.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { runAgent } from "../../src/agent/loop.ts";
import type { LoopEvent } from "../../src/agent/types.ts";
import type { Message } from "../../src/provider/types.ts";
import { createBashTool } from "../../src/tools/bash.ts";
import { tempDir, waitForFile } from "../tools/helpers.ts";
import { allowAll, call, reply, scripted } from "./script.ts";

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("cancel mid-bash kills the child and leaves a history the next turn can use", async () => {
  await using dir = await tempDir();
  const pidFile = join(dir.path, "pid");
  const bash = createBashTool(dir.path);
  // `exec` makes sleep the shell's own process, a direct child of this test process.
  const s = scripted([
    reply({ text: "sleeping", calls: [call("c1", "bash", { command: `echo $$ > ${pidFile}; exec sleep 30` })] }),
    reply({ text: "awake" }),
  ]);
  const history: Message[] = [{ role: "user", content: "sleep" }];
  const controller = new AbortController();

  const events: LoopEvent[] = [];
  const started = Date.now();
  const turn = runAgent(
    {
      agent: "crab",
      session: 1,
      model: "m",
      history,
      tools: [bash],
      stream: s.stream,
      maxIterations: 4,
      authorize: allowAll,
    },
    controller.signal,
  );
  const consumer = (async () => {
    for await (const ev of turn) events.push(ev);
  })();
  const pid = Number(await waitForFile(pidFile));
  expect(processExists(pid)).toBe(true);
  controller.abort();
  await consumer;
  expect(Date.now() - started).toBeLessThan(5000);

  const end = events.at(-1);
  expect(end).toMatchObject({ type: "end", stopReason: "aborted" });
  expect(events.find((e) => e.type === "tool_result")).toMatchObject({
    callId: "c1",
    output: "cancelled",
    isError: true,
  });

  const deadline = Date.now() + 5000;
  while (processExists(pid) && Date.now() < deadline) await Bun.sleep(20);
  expect(() => process.kill(pid, 0)).toThrow();

  for (const ev of events) if (ev.type === "message") history.push(ev.message);
  expect(history.map((m) => m.role)).toEqual(["user", "assistant", "tool"]);
  history.push({ role: "user", content: "again" });

  const next = runAgent(
    {
      agent: "crab",
      session: 1,
      model: "m",
      history,
      tools: [bash],
      stream: s.stream,
      maxIterations: 4,
      authorize: allowAll,
    },
    new AbortController().signal,
  );
  for await (const _ of next) {
    // drain
  }
  expect(await next.result()).toMatchObject({ stopReason: "stop", text: "awake" });
  expect(s.requests[1]!.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "user"]);
});
