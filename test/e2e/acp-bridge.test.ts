/**
 * Issue 23 acceptance: `crabtalk acp` (compiled binary) driven over stdio
 * by the ACP SDK's own client side, against the real daemon and a scripted
 * provider: initialize, new session (modes, model, cwd refusal), a prompt
 * with a tool call, permissions answered allow and reject, cancel mid-turn
 * (the tool's process gone), load of an earlier session, an events watcher
 * seeing the editor's turn, a turn that outlives the editor, and no daemon.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { methods } from "@agentclientprotocol/sdk";
import type { ServerMessage } from "../../src/protocol/gen/crabtalk.ts";
import { binaryPath, startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { lastUserText, pidAlive, waitFor } from "../helpers/turn-kit.ts";
import { answerText, initialize, rejectOnce, startEditor, type Editor } from "../acp/editor.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let work: string;

const config = (url: string) => `[daemon]
tcp = false
approval_timeout_ms = 10000

[provider.fake]
kind = "openai"
base_url = "${url}/v1"
models = ["fake-model", "careful-model"]

[agents.crab]
model = "fake-model"

[agents.careful]
model = "careful-model"

[permissions.careful]
bash = "ask"
`;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({ config: config(fake.url) });
  work = join(d.home, "work");
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

function bashThenAnswer(id: string, command: string, answer: string, model = "fake-model"): void {
  fake.enqueue(
    sseReply(openaiSse({ model, thinking: "let me run it", toolCalls: [{ id, name: "bash", args: { command } }] })),
    sseReply(openaiSse({ model, text: answer })),
  );
}

async function openEditor(args: string[] = []): Promise<Editor> {
  const editor = startEditor(d.home, d.socket, args);
  await initialize(editor);
  return editor;
}

/** The daemon session a new ACP session became (announced with session_info_update). */
async function daemonSessionOf(editor: Editor, acpId: string): Promise<number> {
  const n = await editor.waitForUpdate(`the daemon session of ${acpId}`, (u) => {
    return u.sessionId === acpId && u.update.sessionUpdate === "session_info_update";
  });
  const meta = n.update._meta as { crabtalk: { session: number } };
  return meta.crabtalk.session;
}

let firstSession = 0;

describe("crabtalk acp", () => {
  test("initialize declares what the bridge really does", async () => {
    await using editor = startEditor(d.home, d.socket);
    const init = await initialize(editor);
    expect(init.protocolVersion).toBe(1);
    expect(init.agentInfo?.name).toBe("crabtalk");
    expect(init.agentCapabilities?.loadSession).toBe(true);
    expect(init.agentCapabilities?.promptCapabilities).toMatchObject({ image: false, audio: false });
    expect(init.agentCapabilities?.mcpCapabilities).toMatchObject({ http: false, sse: false });
    expect(init.agentCapabilities?.sessionCapabilities?.list).toEqual({});
  });

  test("new session: agents as modes, the agent's model, a cwd outside the agent's refused with the reason", async () => {
    await using editor = await openEditor();
    const s = await editor.conn.agent.request(methods.agent.session.new, { cwd: work, mcpServers: [] });
    expect(s.modes?.currentModeId).toBe("crab");
    expect(s.modes?.availableModes.map((m) => m.id).sort()).toEqual(["careful", "crab"]);
    expect(s.configOptions?.[0]).toMatchObject({ id: "model", category: "model", currentValue: "fake-model" });
    const refused = editor.conn.agent.request(methods.agent.session.new, { cwd: "/", mcpServers: [] });
    await expect(refused).rejects.toThrow(`agent "crab" works in ${work}`);
    // Below the agent's cwd is fine: the agent's tools still run in its own cwd.
    await editor.conn.agent.request(methods.agent.session.new, { cwd: join(work, "sub"), mcpServers: [] });
  });

  test("a prompt with a tool call: thought, tool call and its result, final text, end_turn; an events watcher sees it", async () => {
    const watcher = await d.client();
    const seen: ServerMessage[] = [];
    const watching = (async () => {
      for await (const r of watcher.stream({ subscribeEvents: {} })) {
        seen.push(r);
        if (r.event?.kind === "end") return;
      }
    })();
    // Frames on one connection are handled in order and subscribing is synchronous: once answered, the watcher is on.
    expect((await watcher.request({ ping: {} })).msg).toBe("pong");
    await using editor = await openEditor();
    const { sessionId } = await editor.conn.agent.request(methods.agent.session.new, { cwd: work, mcpServers: [] });
    bashThenAnswer("call_echo", "echo hello-acp", "the tool said hello-acp");
    const res = await editor.conn.agent.request(methods.agent.session.prompt, {
      sessionId,
      prompt: [{ type: "text", text: "run echo" }],
    });
    expect(res.stopReason).toBe("end_turn");
    firstSession = await daemonSessionOf(editor, sessionId);
    const ups = editor.updatesOf(sessionId);
    const thought = ups.find((u) => u.sessionUpdate === "agent_thought_chunk");
    expect(thought).toBeDefined();
    const call = ups.find((u) => u.sessionUpdate === "tool_call");
    expect(call).toMatchObject({ toolCallId: "call_echo", kind: "execute", status: "in_progress" });
    expect(call?.sessionUpdate === "tool_call" && call.title).toContain("echo hello-acp");
    const result = ups.find((u) => u.sessionUpdate === "tool_call_update" && u.toolCallId === "call_echo");
    expect(result).toMatchObject({ status: "completed" });
    expect(JSON.stringify(result)).toContain("hello-acp");
    expect(ups.indexOf(call!)).toBeLessThan(ups.indexOf(result!));
    expect(answerText(ups)).toBe("the tool said hello-acp");
    await watching;
    watcher.close();
    const events = seen.filter((r) => r.event?.session === firstSession).map((r) => r.event!.kind);
    expect(events).toContain("start");
    expect(events).toContain("tool_start");
    expect(events).toContain("tool_result");
    expect(events.at(-1)).toBe("end");
    expect(seen.find((r) => r.event?.kind === "start")!.event!.payload!.start!.sender).toBe("acp");
  });

  test("permissions: allow runs the tool, reject does not and the model reads why", async () => {
    await using editor = await openEditor(["--agent", "careful"]);
    const marker = join(work, "acp-allowed.marker");
    for (const [answer, id] of [
      ["allow", "call_allow"],
      ["reject", "call_reject"],
    ] as const) {
      rmSync(marker, { force: true });
      if (answer === "reject") editor.answer = rejectOnce;
      const { sessionId, modes } = await editor.conn.agent.request(methods.agent.session.new, {
        cwd: work,
        mcpServers: [],
      });
      expect(modes?.currentModeId).toBe("careful");
      const before = fake.requests.length;
      bashThenAnswer(id, "touch acp-allowed.marker && echo made", `${answer} done`, "careful-model");
      const res = await editor.conn.agent.request(methods.agent.session.prompt, {
        sessionId,
        prompt: [{ type: "text", text: "make the marker" }],
      });
      expect(res.stopReason).toBe("end_turn");
      const asked = editor.permissionRequests.at(-1)!;
      expect(asked.sessionId).toBe(sessionId);
      expect(asked.toolCall).toMatchObject({ toolCallId: id, kind: "execute", name: "bash" });
      expect(asked.options.map((o) => o.kind)).toEqual(["allow_once", "reject_once"]);
      const result = editor
        .updatesOf(sessionId)
        .find((u) => u.sessionUpdate === "tool_call_update" && u.toolCallId === id);
      if (answer === "allow") {
        expect(existsSync(marker)).toBe(true);
        expect(result).toMatchObject({ status: "completed" });
      } else {
        expect(existsSync(marker)).toBe(false);
        expect(result).toMatchObject({ status: "failed" });
        expect(JSON.stringify(fake.requests[before + 1]!.body)).toContain("rejected this call in the editor");
      }
    }
    expect(editor.permissionRequests).toHaveLength(2);
  });

  test("cancel mid-turn: stop reason cancelled, the tool's process gone", async () => {
    await using editor = await openEditor();
    const { sessionId } = await editor.conn.agent.request(methods.agent.session.new, { cwd: work, mcpServers: [] });
    const pidFile = join(work, "acp-cancel.pid");
    rmSync(pidFile, { force: true });
    fake.enqueue(
      sseReply(
        openaiSse({
          model: "fake-model",
          toolCalls: [{ id: "call_sleep", name: "bash", args: { command: "echo $$ > acp-cancel.pid; exec sleep 60" } }],
        }),
      ),
    );
    const prompt = editor.conn.agent.request(methods.agent.session.prompt, {
      sessionId,
      prompt: [{ type: "text", text: "sleep" }],
    });
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "", 15_000, "the sleep");
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    expect(pidAlive(pid)).toBe(true);
    await editor.conn.agent.notify(methods.agent.session.cancel, { sessionId });
    expect((await prompt).stopReason).toBe("cancelled");
    await waitFor(() => !pidAlive(pid), 10_000, "the tool's process to be gone");
  });

  test("list and load: an earlier session's history arrives as updates, and the next prompt continues it", async () => {
    expect(firstSession).toBeGreaterThan(0);
    await using editor = await openEditor();
    const sessionId = String(firstSession);
    // session/list offers the daemon's sessions, the earlier one among them, for a cwd their agent may open.
    const listed = await editor.conn.agent.request(methods.agent.session.list, { cwd: work });
    expect(listed.sessions.find((x) => x.sessionId === sessionId)).toMatchObject({ cwd: work });
    expect((await editor.conn.agent.request(methods.agent.session.list, { cwd: "/" })).sessions).toEqual([]);
    const loaded = await editor.conn.agent.request(methods.agent.session.load, {
      sessionId,
      cwd: work,
      mcpServers: [],
    });
    expect(loaded.modes?.currentModeId).toBe("crab");
    const ups = editor.updatesOf(sessionId);
    expect(ups.map((u) => u.sessionUpdate)).toEqual([
      "user_message_chunk",
      "agent_thought_chunk",
      "tool_call",
      "tool_call_update",
      "agent_message_chunk",
    ]);
    expect(JSON.stringify(ups[0])).toContain("run echo");
    expect(JSON.stringify(ups[3])).toContain("hello-acp");
    expect(answerText(ups)).toBe("the tool said hello-acp");
    // The loaded session is the daemon's: a prompt continues it (the model sees the earlier turn).
    const before = fake.requests.length;
    fake.enqueue(sseReply(openaiSse({ model: "fake-model", text: "continued" })));
    const res = await editor.conn.agent.request(methods.agent.session.prompt, {
      sessionId,
      prompt: [{ type: "text", text: "and again" }],
    });
    expect(res.stopReason).toBe("end_turn");
    expect(lastUserText(fake.requests[before]!)).toBe("and again");
    expect(JSON.stringify(fake.requests[before]!.body)).toContain("the tool said hello-acp");
    const missing = editor.conn.agent.request(methods.agent.session.load, {
      sessionId: "999999",
      cwd: work,
      mcpServers: [],
    });
    await expect(missing).rejects.toThrow("crabtalk daemon:");
  });

  test("closing the editor does not stop a running turn", async () => {
    const editor = await openEditor();
    const { sessionId } = await editor.conn.agent.request(methods.agent.session.new, { cwd: work, mcpServers: [] });
    const marker = join(work, "acp-outlived.marker");
    rmSync(marker, { force: true });
    bashThenAnswer("call_slow", "sleep 0.5 && touch acp-outlived.marker", "finished without the editor");
    void editor.conn.agent
      .request(methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: "slow" }] })
      .catch(() => {});
    const session = await daemonSessionOf(editor, sessionId);
    await editor.waitForUpdate("the tool call", (u) => u.update.sessionUpdate === "tool_call");
    expect(await editor.close()).toBe(0);
    await waitFor(() => existsSync(marker), 15_000, "the tool to finish after the editor left");
    const c = await d.client();
    await waitFor(
      async () => {
        const h = await c.request({ getHistory: { session } });
        return h.history!.messages.some((m) => m.content === "finished without the editor");
      },
      15_000,
      "the turn's answer in the session",
    );
    c.close();
  });

  test("an editor that loads a session with a turn in flight follows it live to its end", async () => {
    const first = await openEditor(["--agent", "careful"]);
    const never = new Promise<never>(() => {});
    first.answer = () => never as never; // this editor leaves before answering
    const { sessionId } = await first.conn.agent.request(methods.agent.session.new, { cwd: work, mcpServers: [] });
    bashThenAnswer("call_held", "echo held-then-allowed", "answered after the reload", "careful-model");
    void first.conn.agent
      .request(methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: "held" }] })
      .catch(() => {});
    const session = await daemonSessionOf(first, sessionId);
    await waitFor(() => first.permissionRequests.length === 1, 15_000, "the permission request");
    expect(await first.close()).toBe(0);

    // The turn waits on its approval; a new editor loads the session and follows it.
    await using second = await openEditor();
    await second.conn.agent.request(methods.agent.session.load, {
      sessionId: String(session),
      cwd: work,
      mcpServers: [],
    });
    const busy = second.conn.agent.request(methods.agent.session.prompt, {
      sessionId: String(session),
      prompt: [{ type: "text", text: "too early" }],
    });
    await expect(busy).rejects.toThrow("a turn is already running");
    const c = await d.client();
    await c.request({ approve: { callId: "call_held", response: "allow", session, taskId: 0 } });
    c.close();
    await second.waitForUpdate("the final answer, live", (u) => {
      return u.update.sessionUpdate === "agent_message_chunk" && JSON.stringify(u.update).includes("reload");
    });
    const ups = second.updatesOf(String(session));
    const result = ups.find((u) => u.sessionUpdate === "tool_call_update" && u.toolCallId === "call_held");
    expect(JSON.stringify(result)).toContain("held-then-allowed");
    expect(answerText(ups)).toBe("answered after the reload");
  });

  test("the daemon stopping ends the bridge with the reason, exit non-zero", async () => {
    await using other = await startDaemon({ config: config(fake.url) });
    const editor = startEditor(other.home, other.socket);
    await initialize(editor);
    expect(await other.stop()).toBe(0);
    expect(await editor.proc.exited).toBe(1);
    // stderr is read in the background: wait for the line rather than race the reader.
    await waitFor(() => editor.stderr().includes("the crabtalk daemon closed the connection"), 5_000, "the reason");
    editor.conn.close();
  });

  test("no daemon: a clear error naming the command to start it, exit non-zero", async () => {
    const home = tempHome();
    const proc = Bun.spawn([binaryPath(), "acp"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const code = await proc.exited;
    const stderr = await new Response(proc.stderr).text();
    expect(code).toBe(1);
    expect(stderr).toContain("daemon is not running");
    expect(stderr).toContain("crabtalk daemon");
    expect(await new Response(proc.stdout).text()).toBe("");
    rmSync(home, { recursive: true, force: true });
  });
});
