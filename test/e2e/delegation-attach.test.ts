/**
 * attach in a real terminal (tmux) while its turn delegates: one live line
 * per running task under the delegating call (agent, task id, tool calls so
 * far, elapsed), gone when the task ends, and the screen left clean.
 */
import { expect, test } from "bun:test";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { FakeProvider, sseReply, type RecordedRequest } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { binaryPath, Tmux } from "./cli-kit.ts";

test("attach shows a live line per running task, with its tool calls, until it ends", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const fake = await FakeProvider.start();
  fake.route((req: RecordedRequest) => {
    const body = req.body as { model?: string; messages?: { role: string }[] };
    const afterTools = (body.messages ?? []).some((m) => m.role === "tool");
    if (body.model === "lead-model")
      return afterTools
        ? sseReply(openaiSse({ model: "lead-model", text: "All delegated work is back." }))
        : sseReply(
            openaiSse({
              model: "lead-model",
              toolCalls: [{ id: "d1", name: "delegate", args: { tasks: [{ agent: "helper", message: "dig" }] } }],
            }),
          );
    // The helper makes one tool call, then waits at the gate before answering.
    return afterTools
      ? sseReply(openaiSse({ model: "helper-model", text: "dug" }), { gate })
      : sseReply(
          openaiSse({ model: "helper-model", toolCalls: [{ id: "b1", name: "bash", args: { command: "true" } }] }),
        );
  });
  const home = tempHome("crabtalk-deleg-attach-");
  await using _d = await startDaemon({
    home,
    config: `[daemon]
tcp = false

[provider.fake]
kind = "openai"
base_url = "${fake.url}/v1"
models = ["lead-model", "helper-model"]

[agents.crab]
model = "lead-model"
tools = []
members = ["helper"]

[agents.helper]
model = "helper-model"
tools = ["bash"]
`,
  });
  try {
    await using tty = Tmux.start([binaryPath(), "attach"], { home, cols: 100 });
    await tty.waitFor("/help for commands");
    tty.type("split this up");
    const during = await tty.waitFor(/↳ helper · task \d+ · 1 tool call · \d/);
    expect(during.split("\n").filter((l) => l.includes("↳ helper"))).toHaveLength(1);
    release();
    const after = await tty.waitFor(/All delegated work is back\.\n(.*\n)*─ /);
    expect(after).not.toContain("↳ helper");
    expect(after).not.toContain("\x1b");
  } finally {
    release();
    await fake.stop();
  }
}, 60_000);
