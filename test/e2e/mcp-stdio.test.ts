/**
 * Issue 14 acceptance over stdio, against the compiled daemon and real MCP
 * servers run with Node: @modelcontextprotocol/server-everything and the
 * probe server (test/mcp/probe-server.mjs, the official SDK's server side).
 * A scripted model calls `<server>__<tool>`; grants, `ask`, results
 * (text, image, tool error), a killed server restarted on the next call,
 * cancellation reaching the server, tools/list_changed, a server hanging
 * in initialize, a missing command, and no child left after kill -9.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AgentEvent, StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { endOf, pidAlive, sessionOf, streamTurn, toolResultsOf, turnConfig, waitFor } from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";
import { EVERYTHING, PROBE, offeredTools, resultOf, scriptCall, server, stdioServer } from "../mcp/kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let probeLog: string;

beforeAll(async () => {
  fake = await FakeProvider.start();
  const home = tempHome("crabtalk-mcp-");
  probeLog = join(home, "probe.log");
  const config = turnConfig(
    fake.url,
    `tools = []
mcp = ["everything", "probe"]

[agents.plain]
model = "fake-model"
tools = []

[permissions]
everything__get-sum = "ask"

${stdioServer("everything", EVERYTHING, ["stdio"])}
${stdioServer("probe", PROBE, [], `env = { PROBE_LOG = "${probeLog}", PROBE_SECRET = "\${PROBE_SECRET_SRC}" }`)}
${stdioServer("hang", PROBE, ["hang-init"], "connect_timeout_ms = 1500")}
${stdioServer("sleepy", PROBE, [], "idle_timeout_s = 1")}
${stdioServer("off", PROBE, [], "enabled = false")}
[mcp.missing]
command = "no-such-mcp-server-program"
eager = true
`,
  );
  d = await startDaemon({ home, config, env: { PROBE_SECRET_SRC: "s3cr3t-value-42", DAEMON_ONLY_SECRET: "x" } });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
  rmSync(d.home, { recursive: true, force: true });
});

async function answering(agent: string, content: string, answer: "allow" | "deny"): Promise<StreamEvent[]> {
  const c = await d.client();
  const events: StreamEvent[] = [];
  for await (const r of c.stream({ stream: { agent, content } })) {
    if (!r.stream) continue;
    events.push(r.stream);
    const ask = r.stream.approval;
    if (ask) await c.request({ approve: { callId: ask.callId, response: answer, session: r.stream.session } });
  }
  c.close();
  return events;
}

describe("tools of a stdio server", () => {
  test("lazy: the first turn of a granted agent starts the server; the model calls everything__echo and reads the answer", async () => {
    const c = await d.client();
    expect((await server(c, "everything")).state).toBe("idle");
    scriptCall(fake, "everything__echo", { message: "ping-1" });
    const before = fake.requests.length;
    const events = await streamTurn(c, { content: "echo please" });
    expect(endOf(events).stopReason).toBe("stop");
    expect(offeredTools(fake.requests[before]!)).toContain("everything__echo");
    const schema = (
      fake.requests[before]!.body as { tools: { function: { name: string; parameters: unknown } }[] }
    ).tools.find((t) => t.function.name === "everything__echo")!.function.parameters as { required: string[] };
    expect(schema.required).toEqual(["message"]);
    const start = events.find((e) => e.toolStart)!.toolStart!;
    expect(start.calls[0]!.name).toBe("everything__echo");
    const result = resultOf(events);
    expect(result.output).toBe("Echo: ping-1");
    expect(result.isError).toBe(false);
    expect(Number(result.durationMs)).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(result.details)).toMatchObject({ server: "everything", tool: "echo" });
    expect(toolResultsOf(fake.requests[before + 1]!)[0]!.text).toBe("Echo: ping-1");
    const s = await server(c, "everything");
    expect(s.state).toBe("ready");
    expect(s.toolCount).toBeGreaterThan(5);
    expect(pidAlive(s.pid!)).toBe(true);
    c.close();
  });

  test("an image is summarized as type and size; a tool error is an error result", async () => {
    const c = await d.client();
    scriptCall(fake, "everything__get-tiny-image", {});
    const image = resultOf(await streamTurn(c, { content: "image" }));
    expect(image.output).toMatch(/\[image: image\/png, \d+ bytes\]/);
    scriptCall(fake, "probe__fail", {});
    const failed = resultOf(await streamTurn(c, { content: "fail" }));
    expect(failed.isError).toBe(true);
    expect(failed.output).toBe("probe failed on purpose");
    // server-everything's own error: arguments its schema refuses (sent directly, past the daemon's schema check).
    const call = await runCrabtalk(d.home, ["mcp", "call", "everything", "get-sum", '{"a": "one", "b": 2}']);
    expect(call.code).not.toBe(0);
    expect(call.stdout.toLowerCase()).toContain("invalid");
    c.close();
  });

  test("an agent without the grant is refused at dispatch and is not offered the tools", async () => {
    const c = await d.client();
    scriptCall(fake, "everything__echo", { message: "sneaky" });
    const before = fake.requests.length;
    const result = resultOf(await streamTurn(c, { agent: "plain", content: "echo" }));
    expect(result.isError).toBe(true);
    expect(result.output).toContain("not granted");
    expect(offeredTools(fake.requests[before]!)).not.toContain("everything__echo");
    c.close();
  });

  test("ask on an MCP tool prompts: allowed runs it, denied does not", async () => {
    scriptCall(fake, "everything__get-sum", { a: 2, b: 3 });
    const allowed = await answering("crab", "sum", "allow");
    expect(allowed.some((e) => e.approval?.tool === "everything__get-sum")).toBe(true);
    expect(resultOf(allowed).output).toContain("The sum of 2 and 3 is 5");
    scriptCall(fake, "everything__get-sum", { a: 4, b: 4 });
    const denied = await answering("crab", "sum", "deny");
    expect(resultOf(denied).isError).toBe(true);
    expect(resultOf(denied).output).not.toContain("The sum");
  });

  test("the child gets the allow-listed environment plus its env (${VAR} expanded), not the daemon's other variables", async () => {
    scriptCall(fake, "probe__env", {});
    const out = resultOf(await streamTurn(await d.client(), { content: "env" })).output;
    expect(out).toContain("PROBE_LOG");
    expect(out).toContain("PROBE_SECRET");
    expect(out).not.toContain("DAEMON_ONLY_SECRET");
    expect(out).not.toContain("PROBE_SECRET_SRC");
  });
});

describe("lifecycle", () => {
  test("kill the server's pid mid-session: the next call restarts it and succeeds", async () => {
    const c = await d.client();
    const first = await server(c, "everything");
    expect(first.state).toBe("ready");
    const notices: AgentEvent[] = [];
    const watching = (async () => {
      for await (const r of c.stream({ subscribeEvents: {} })) if (r.event?.kind === "notice") notices.push(r.event);
    })().catch(() => undefined);
    await c.request({ ping: {} }); // frames are routed in order: the subscription exists once this is answered
    process.kill(first.pid!, "SIGKILL");
    await waitFor(async () => (await server(c, "everything")).state === "failed", 10_000, "the crash to be noticed");
    await waitFor(() => notices.length > 0, 5000, "the failure on the event bus");
    expect(notices[0]!.payload!.notice).toMatchObject({ source: "mcp:everything", level: "error" });
    expect(notices[0]!.payload!.notice!.message).toContain(`process ${first.pid} exited`);
    expect((await server(c, "everything")).error).toContain(`process ${first.pid} exited`);
    scriptCall(fake, "everything__echo", { message: "after-crash" });
    const result = resultOf(await streamTurn(c, { content: "again" }));
    expect(result.output).toBe("Echo: after-crash");
    const now = await server(c, "everything");
    expect(now.state).toBe("ready");
    expect(now.pid).not.toBe(first.pid);
    expect(now.restarts).toBe(first.restarts + 1);
    await waitFor(() => notices.some((n) => n.payload!.notice!.message.includes("ready again")), 5000, "the recovery");
    c.close();
    await watching;
  });

  test("cancelling a turn during a long call sends the server a cancellation; the turn ends aborted", async () => {
    const c = await d.client();
    scriptCall(fake, "probe__wait", { ms: 30_000 }, false);
    const events: StreamEvent[] = [];
    const running = (async () => {
      for await (const r of c.stream({ stream: { agent: "crab", content: "wait" } }))
        if (r.stream) events.push(r.stream);
    })();
    await waitFor(() => events.some((e) => e.toolStart), 10_000, "the call to start");
    const logged = () => (existsSync(probeLog) ? readFileSync(probeLog, "utf8") : "");
    await waitFor(() => logged().includes("started wait"), 5000, "the call to reach the server");
    const t0 = Date.now();
    await c.request({ cancel: { session: sessionOf(events) } });
    await running;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(endOf(events).stopReason).toBe("aborted");
    await waitFor(() => logged().includes("cancelled wait"), 5000, "the probe to record the cancellation");
    c.close();
  });

  test("tools/list_changed refreshes the server's tools for the next model call", async () => {
    scriptCall(fake, "probe__add_tool", {});
    const c = await d.client();
    await streamTurn(c, { content: "add" });
    await waitFor(
      async () => (await server(c, "probe")).tools.some((t) => t.name === "probe__added"),
      5000,
      "the new tool",
    );
    fake.enqueue(sseReply(openaiSse({ model: "fake-model", text: "ok" })));
    const before = fake.requests.length;
    await streamTurn(c, { content: "what tools now?" });
    expect(offeredTools(fake.requests[before]!)).toContain("probe__added");
    c.close();
  });

  test("a server that never answers initialize fails within connect_timeout_ms; the others are untouched", async () => {
    const t0 = Date.now();
    const r = await runCrabtalk(d.home, ["mcp", "tools", "hang"]);
    const elapsed = Date.now() - t0;
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("did not answer initialize within 1500 ms");
    expect(elapsed).toBeLessThan(6000);
    const list = await runCrabtalk(d.home, ["mcp"]);
    expect(list.stdout).toMatch(/hang\s+failed/);
    expect(list.stdout).toMatch(/everything\s+ready/);
  });

  test("a missing command shows failed with the reason in `crabtalk mcp`", async () => {
    const c = await d.client();
    await waitFor(async () => (await server(c, "missing")).state === "failed", 10_000, "the eager start to fail");
    c.close();
    const r = await runCrabtalk(d.home, ["mcp"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/missing\s+failed/);
    expect(r.stdout).toContain('command "no-such-mcp-server-program" not found');
    const j = JSON.parse((await runCrabtalk(d.home, ["mcp", "--json"])).stdout) as { name: string; state: string }[];
    expect(j.find((s) => s.name === "missing")!.state).toBe("failed");
    // A disabled server is listed as such and never started.
    expect(j.find((s) => s.name === "off")!.state).toBe("disabled");
    const off = await runCrabtalk(d.home, ["mcp", "tools", "off"]);
    expect(off.code).not.toBe(0);
    expect(off.stderr).toContain("set enabled = true");
  });

  test("an idle stdio server is stopped after idle_timeout_s and restarted on next use", async () => {
    const c = await d.client();
    expect((await runCrabtalk(d.home, ["mcp", "call", "sleepy", "env"])).code).toBe(0);
    const first = await server(c, "sleepy");
    expect(first.state).toBe("ready");
    await waitFor(async () => (await server(c, "sleepy")).state === "idle", 5000, "the idle server to be stopped");
    await waitFor(() => !pidAlive(first.pid!), 5000, `idle server ${first.pid} to exit`);
    expect((await server(c, "sleepy")).toolCount).toBe(first.toolCount);
    const again = await runCrabtalk(d.home, ["mcp", "call", "sleepy", "env"]);
    expect(again.code).toBe(0);
    const now = await server(c, "sleepy");
    expect(now.state).toBe("ready");
    expect(now.pid).not.toBe(first.pid);
    c.close();
  });

  test("stderr of a stdio server goes to logs/mcp-<name>.log", () => {
    expect(existsSync(join(d.home, "logs", "mcp-everything.log"))).toBe(true);
  });

  test("kill -9 of the daemon leaves no MCP child", async () => {
    const c = await d.client();
    const pids = [(await server(c, "everything")).pid!, (await server(c, "probe")).pid!];
    c.close();
    for (const pid of pids) expect(pidAlive(pid)).toBe(true);
    await d.kill9();
    for (const pid of pids) await waitFor(() => !pidAlive(pid), 5000, `MCP child ${pid} to die with the daemon`);
  });
});
