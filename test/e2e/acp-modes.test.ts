/**
 * `crabtalk acp` modes, models and how turns end, through the compiled
 * binary and the ACP SDK's client side: the daemon's agents are modes (the
 * agent can change until the session's first prompt, then the daemon session
 * keeps it), the model is a config option with the agent's model, a turn cut
 * at the token limit ends with max_tokens, and a failed turn is a JSON-RPC
 * error carrying the daemon's reason.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { methods } from "@agentclientprotocol/sdk";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { errorReply, FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { answerText, initialize, startEditor } from "../acp/editor.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let work: string;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({
    config: `[daemon]
tcp = false

[provider.fake]
kind = "openai"
base_url = "${fake.url}/v1"
models = ["fake-model", "owl-model"]
max_retries = 0

[agents.crab]
model = "fake-model"

[agents.owl]
model = "owl-model"
`,
  });
  work = join(d.home, "work");
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

describe("crabtalk acp modes and stop reasons", () => {
  test("set_mode switches the agent before the first prompt, and is refused after it with the reason", async () => {
    await using editor = startEditor(d.home, d.socket);
    await initialize(editor);
    const { sessionId } = await editor.conn.agent.request(methods.agent.session.new, { cwd: work, mcpServers: [] });
    await editor.conn.agent.request(methods.agent.session.setMode, { sessionId, modeId: "owl" });
    const modeUpdate = editor.updatesOf(sessionId).find((u) => u.sessionUpdate === "current_mode_update");
    expect(modeUpdate).toMatchObject({ currentModeId: "owl" });
    const before = fake.requests.length;
    fake.enqueue(sseReply(openaiSse({ model: "owl-model", text: "hoot" })));
    const res = await editor.conn.agent.request(methods.agent.session.prompt, {
      sessionId,
      prompt: [{ type: "text", text: "who are you" }],
    });
    expect(res.stopReason).toBe("end_turn");
    expect((fake.requests[before]!.body as { model: string }).model).toBe("owl-model");
    expect(answerText(editor.updatesOf(sessionId))).toBe("hoot");
    await expect(
      editor.conn.agent.request(methods.agent.session.setMode, { sessionId, modeId: "crab" }),
    ).rejects.toThrow('belongs to agent "owl"');
    await expect(
      editor.conn.agent.request(methods.agent.session.setMode, { sessionId, modeId: "nobody" }),
    ).rejects.toThrow('no agent "nobody"');
  });

  test("the model option holds the agent's model; another model is refused with where to set it", async () => {
    await using editor = startEditor(d.home, d.socket);
    await initialize(editor);
    const { sessionId } = await editor.conn.agent.request(methods.agent.session.new, { cwd: work, mcpServers: [] });
    const same = await editor.conn.agent.request(methods.agent.session.setConfigOption, {
      sessionId,
      configId: "model",
      value: "fake-model",
    });
    expect(same.configOptions[0]).toMatchObject({ currentValue: "fake-model" });
    await expect(
      editor.conn.agent.request(methods.agent.session.setConfigOption, {
        sessionId,
        configId: "model",
        value: "owl-model",
      }),
    ).rejects.toThrow("[agents.crab] model");
  });

  test("a turn cut at the token limit ends with max_tokens; a failed turn is an error with the daemon's reason", async () => {
    await using editor = startEditor(d.home, d.socket);
    await initialize(editor);
    const { sessionId } = await editor.conn.agent.request(methods.agent.session.new, { cwd: work, mcpServers: [] });
    fake.enqueue(sseReply(openaiSse({ model: "fake-model", text: "cut sho", finishReason: "length" })));
    const cut = await editor.conn.agent.request(methods.agent.session.prompt, {
      sessionId,
      prompt: [{ type: "text", text: "long answer" }],
    });
    expect(cut.stopReason).toBe("max_tokens");
    fake.enqueue(errorReply(400, { error: { message: "scripted bad request", type: "invalid_request_error" } }));
    await expect(
      editor.conn.agent.request(methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: "fail" }] }),
    ).rejects.toThrow("crabtalk daemon:");
    // The session goes on after a failed turn.
    fake.enqueue(sseReply(openaiSse({ model: "fake-model", text: "fine again" })));
    const again = await editor.conn.agent.request(methods.agent.session.prompt, {
      sessionId,
      prompt: [{ type: "text", text: "retry" }],
    });
    expect(again.stopReason).toBe("end_turn");
  });
});
