/**
 * The extension SDK as the daemon meets it: a real extension process
 * (test/ext-sdk/full-extension.ts) listening on a real Unix socket, driven
 * from here with real ext.proto frames. Handshake and derived capabilities,
 * concurrent tool calls, inference round trips, every hook, failures that
 * must not end the extension, and each way it ends.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { extRequest } from "../../src/protocol/codec.ts";
import { waitFor } from "../helpers/turn-kit.ts";
import { bunRun, DaemonSide } from "./daemon-side.ts";

const FULL = bunRun(join(import.meta.dir, "full-extension.ts"));

describe("one extension serving many requests", () => {
  let ext: DaemonSide;
  beforeAll(async () => {
    ext = await DaemonSide.start(FULL);
  });
  afterAll(async () => {
    await ext[Symbol.asyncDispose]();
  });

  test("handshake: ExtReady names the service and derives all nine capabilities; tools come with their schemas", async () => {
    const { ready, tools } = await ext.handshake({ greeting: "hi" });
    expect(ready.msg).toBe("ready");
    expect(ready.ready!.service).toBe("full");
    expect(ready.ready!.version).toBe("1.2.3");
    const caps = ready.ready!.capabilities.map((c) => c.cap);
    expect(caps).toEqual([
      "tools",
      "query",
      "buildAgent",
      "beforeRun",
      "compact",
      "eventObserver",
      "afterRun",
      "infer",
      "afterCompact",
    ]);
    expect(ready.ready!.capabilities[0]!.tools!.names).toEqual([
      "echo",
      "info",
      "wait",
      "open",
      "boom",
      "refuse",
      "ask",
      "hang",
    ]);
    const echo = tools.toolSchemas!.tools.find((t) => t.name === "echo")!;
    expect(echo.description).toBe("Echoes its text.");
    expect(JSON.parse(new TextDecoder().decode(echo.parameters))).toEqual({
      type: "object",
      properties: { text: { type: "string" } },
    });
  });

  test("a tool call gets its result, the context (agent, call id, session, config) and the id echoed", async () => {
    const r = await ext.call({ toolCall: { name: "echo", args: '{"text":"hello"}', agent: "crab" } });
    expect(r.toolResult).toEqual({ result: "echo: hello", isError: false });
    const info = await ext.call({
      toolCall: { name: "info", args: "{}", agent: "crab", callId: "call_7", session: 42 },
    });
    expect(JSON.parse(info.toolResult!.result)).toEqual({
      agent: "crab",
      callId: "call_7",
      session: 42,
      config: { greeting: "hi" },
    });
  });

  test("calls run concurrently: a call blocked on a gate does not hold up the one that opens it", async () => {
    const waiting = ext.call({ toolCall: { name: "wait", args: '{"key":"g1"}' } });
    // open is answered only if it ran while wait was still in flight on the same connection.
    let opened = await ext.call({ toolCall: { name: "open", args: '{"key":"g1"}' } });
    // wait's handler may not have registered its gate yet when open arrived: retry until it has.
    while (opened.toolResult?.isError) opened = await ext.call({ toolCall: { name: "open", args: '{"key":"g1"}' } });
    expect(opened.toolResult!.result).toBe("released");
    expect((await waiting).toolResult!.result).toBe("opened g1");
  });

  test("200 calls in flight at once are each answered under their own id", async () => {
    const calls = Array.from({ length: 200 }, (_, i) =>
      ext.call({ toolCall: { name: "echo", args: JSON.stringify({ text: `n${i}` }) } }),
    );
    const results = await Promise.all(calls);
    expect(results.map((r) => r.toolResult!.result)).toEqual(Array.from({ length: 200 }, (_, i) => `echo: n${i}`));
  });

  test("infer: two inferences in a row travel under the tool call's id and the final result follows", async () => {
    const asked: string[] = [];
    const r = await ext.call(
      { toolCall: { name: "ask", args: '{"question":"why?"}' } },
      {
        onInfer: (messages) => {
          asked.push(messages.map((m) => `${m.role}:${m.content}`).join());
          return `A${asked.length}`;
        },
      },
    );
    expect(asked).toEqual(["user:why?", "user:again: why?"]);
    expect(r.toolResult!.result).toBe("A1 | A2");
  });

  test("inferences of concurrent requests stay apart", async () => {
    const calls = Array.from({ length: 10 }, (_, i) =>
      ext.call(
        { toolCall: { name: "ask", args: JSON.stringify({ question: `q${i}` }) } },
        { onInfer: async (messages) => `for ${messages[0]!.content}` },
      ),
    );
    const results = await Promise.all(calls);
    results.forEach((r, i) => {
      expect(r.toolResult!.result).toBe(`for q${i} | for again: q${i}`);
    });
  });

  test("hooks: query, schema, buildAgent, beforeRun, compact answer; afterRun, afterCompact and events are seen", async () => {
    expect((await ext.call({ serviceQuery: { query: "ping" } })).serviceQueryResult!.result).toBe("query: ping");
    const schema = await ext.call({ getSchema: {} });
    expect(JSON.parse(schema.schemaResult!.schema).properties.greeting.type).toBe("string");
    const built = await ext.call({ buildAgent: { name: "crab", systemPrompt: "You are crab." } });
    expect(built.buildAgentResult!.promptAddition).toBe("Be kind, crab.");
    expect(built.buildAgentResult!.tools.map((t) => t.name)).toEqual(["echo"]);
    const before = await ext.call({
      beforeRun: {
        agent: "crab",
        history: [
          { role: "user", content: "a" },
          { role: "assistant", content: "b" },
        ],
      },
    });
    expect(before.beforeRunResult!.messages).toEqual([{ role: "user", content: "(2 earlier messages for crab)" }]);
    expect((await ext.call({ compact: { agent: "crab", prompt: "Summarise." } })).compactResult!.addition).toBe(
      "Keep the names (crab).",
    );
    const after = await ext.call({
      afterRun: { agent: "crab", history: [{ role: "user", content: "a" }], systemPrompt: "SP" },
    });
    expect(after.msg).toBe("afterRunResult");
    expect((await ext.call({ afterCompact: { agent: "crab", summary: "S1" } })).msg).toBe("afterCompactResult");
    for (let i = 0; i < 3; i++)
      await ext.sendRaw({ event: { agent: "crab", event: JSON.stringify({ type: "text_delta", i }) } });
    // Events get no response; the query is answered after the events before it were queued, so poll the state.
    let state = JSON.parse((await ext.call({ serviceQuery: { query: "state" } })).serviceQueryResult!.result);
    while (state.events.length < 3)
      state = JSON.parse((await ext.call({ serviceQuery: { query: "state" } })).serviceQueryResult!.result);
    expect(state.events).toEqual([0, 1, 2].map((i) => ({ type: "text_delta", i })));
    expect(state.afterRun).toEqual([{ agent: "crab", n: 1, sp: "SP" }]);
    expect(state.afterCompact).toEqual([{ agent: "crab", summary: "S1" }]);
    expect(ext.unsolicited).toEqual([]); // nothing answered the events
  });

  test("failures answer and the extension serves on: a throw, a ToolFailure, an unknown tool, bad args, a refused config", async () => {
    const boom = await ext.call({ toolCall: { name: "boom", args: "{}" } });
    expect(boom.msg).toBe("error");
    expect(boom.error!.message).toBe("kaboom");
    const refused = await ext.call({ toolCall: { name: "refuse", args: "{}" } });
    expect(refused.toolResult).toEqual({ result: "no results for that", isError: true });
    const hookFailure = await ext.call({ serviceQuery: { query: "fail" } });
    expect(hookFailure.error!.message).toBe("a ToolFailure outside a tool"); // an error reply, not a tool result
    const unknown = await ext.call({ toolCall: { name: "nope", args: "{}" } });
    expect(unknown.error!.message).toContain('full has no tool "nope" (its tools: echo, info,');
    const badArgs = await ext.call({ toolCall: { name: "echo", args: "{not json" } });
    expect(badArgs.error!.message).toContain("the arguments of echo: not JSON");
    const array = await ext.call({ toolCall: { name: "echo", args: "[1]" } });
    expect(array.error!.message).toBe("the arguments of echo: must be a JSON object, got an array");
    const config = await ext.call({ configure: { config: '{"reject":"too loud"}' } });
    expect(config.error!.message).toBe("config refused: too loud");
    // The refused config did not replace the accepted one.
    const info = await ext.call({ toolCall: { name: "info", args: "{}" } });
    expect(JSON.parse(info.toolResult!.result).config).toEqual({ greeting: "hi" });
    await ext.logged("[full] tool boom failed: Error: kaboom\n    at handler");
    await ext.logged('[full] tool nope failed: full has no tool "nope"');
    expect((await ext.call({ toolCall: { name: "echo", args: '{"text":"still here"}' } })).toolResult!.result).toBe(
      "echo: still here",
    );
  });

  test("a frame that is not an ExtRequest is dropped and logged; a request without an id is answered without one", async () => {
    await ext.sendRaw(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
    await ext.sendRaw(extRequest.encode({ toolCall: { name: "echo", args: '{"text":"no id"}' } }));
    const reply = await ext.nextUnsolicited();
    expect(reply.toolResult!.result).toBe("echo: no id");
    expect(reply.requestId ?? 0).toBe(0);
    await ext.logged("dropped a frame that is not an ExtRequest");
  });
});

describe("how an extension ends", () => {
  test("ExtShutdown: handlers in flight are aborted, the process exits 0 and the socket file is gone", async () => {
    await using ext = await DaemonSide.start(FULL);
    await ext.handshake();
    const hanging = ext.call({ toolCall: { name: "hang", args: "{}" } });
    hanging.catch(() => {});
    await ext.sendRaw({ shutdown: {}, requestId: 999 });
    expect(await ext.exited()).toBe(0);
    expect(existsSync(ext.spawned.socket)).toBe(false);
    await expect(hanging).rejects.toBeDefined();
  });

  test("the daemon's connection closing ends the extension (no orphan when the daemon dies)", async () => {
    await using ext = await DaemonSide.start(FULL);
    await ext.handshake();
    ext.pipe.close();
    expect(await ext.exited()).toBe(0);
    expect(existsSync(ext.spawned.socket)).toBe(false);
  });

  test("SIGTERM removes the socket; a second connection is refused while the daemon's is served", async () => {
    await using ext = await DaemonSide.start(FULL);
    await ext.handshake();
    const { connectPipe } = await import("../../src/transport/pipe.ts");
    const intruder = await connectPipe({ unix: ext.spawned.socket });
    expect(await intruder.closed).not.toBeUndefined();
    await ext.logged("refused a second connection");
    expect((await ext.call({ toolCall: { name: "echo", args: '{"text":"x"}' } })).toolResult!.result).toBe("echo: x");
    ext.spawned.proc.kill("SIGTERM");
    expect(await ext.exited()).toBe(0);
    expect(existsSync(ext.spawned.socket)).toBe(false);
  });

  test("nobody connecting within --connect-timeout-ms ends it with 1; bad arguments end it with 2", async () => {
    const { spawnExtension } = await import("./daemon-side.ts");
    const lonely = spawnExtension(FULL, ["--connect-timeout-ms", "300"]);
    expect(await lonely.proc.exited).toBe(1);
    // Its exit can be seen before the last chunk of its stderr pipe is read.
    await waitFor(
      () => lonely.stderr().includes("nobody connected to"),
      10_000,
      "the extension to log nobody connected",
    );
    expect(existsSync(lonely.socket)).toBe(false);
    const bad = Bun.spawn([...FULL, "serve"], { stderr: "pipe", stdout: "ignore" });
    expect(await bad.exited).toBe(2);
    expect(await new Response(bad.stderr).text()).toContain("missing --socket PATH");
  });
});
