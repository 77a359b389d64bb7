/**
 * Issue 14 acceptance with the other real servers, against the compiled
 * daemon: server-everything over Streamable HTTP (echo, add, the
 * long-running tool with progress, an image, an error), server-filesystem
 * on a temp dir (the model reads a file it listed), server-memory (an
 * entity written then read back), and the `mcp` meta-tool offered instead
 * of each tool to an agent granted more than tool_threshold tools.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { streamTurn, toolResultsOf, turnConfig, waitFor } from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";
import {
  EVERYTHING,
  FILESYSTEM,
  MEMORY,
  PROBE,
  offeredTools,
  resultOf,
  scriptCall,
  server,
  stdioServer,
} from "../mcp/kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let web: Subprocess;
let home: string;
let notes: string;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

let port: number;
let url: string;

async function startWeb(): Promise<void> {
  web = Bun.spawn(["node", EVERYTHING, "streamableHttp"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PORT: String(port) },
    stdout: "ignore",
    stderr: "ignore",
  });
  await waitFor(
    () =>
      fetch(url, { method: "GET" }).then(
        () => true,
        () => false,
      ),
    15_000,
    "server-everything to listen over HTTP",
  );
}

beforeAll(async () => {
  fake = await FakeProvider.start();
  home = tempHome("crabtalk-mcp-servers-");
  notes = join(home, "notes");
  mkdirSync(notes);
  writeFileSync(join(notes, "hello.txt"), "the crab says hello\n");
  port = await freePort();
  url = `http://127.0.0.1:${port}/mcp`;
  await startWeb();
  const config = turnConfig(
    fake.url,
    `tools = []
mcp = ["web", "fs", "memory"]

[agents.big]
model = "fake-model"
tools = []
mcp = ["many"]

[agents.lazybig]
model = "fake-model"
tools = []
mcp = ["lazymany"]

[permissions]
many__t3 = "ask"

[mcp]
tool_threshold = 40

[mcp.web]
url = "${url}"

${stdioServer("fs", FILESYSTEM, [notes])}
${stdioServer("memory", MEMORY, [], `env = { MEMORY_FILE_PATH = "${join(home, "memory.jsonl")}" }`)}
${stdioServer("many", PROBE, [], 'env = { PROBE_TOOLS = "45" }\neager = true')}
${stdioServer("lazymany", PROBE, [], 'env = { PROBE_TOOLS = "45" }')}
`,
  );
  d = await startDaemon({ home, config });
});
afterAll(async () => {
  await d.cleanup();
  web.kill();
  await web.exited;
  await fake.stop();
  rmSync(home, { recursive: true, force: true });
});

describe("server-everything over Streamable HTTP", () => {
  test("echo, add and an image through the model; the server shows its URL", async () => {
    const c = await d.client();
    scriptCall(fake, "web__echo", { message: "over http" });
    expect(resultOf(await streamTurn(c, { content: "echo" })).output).toBe("Echo: over http");
    scriptCall(fake, "web__get-sum", { a: 20, b: 22 });
    expect(resultOf(await streamTurn(c, { content: "add" })).output).toContain("The sum of 20 and 22 is 42");
    scriptCall(fake, "web__get-tiny-image", {});
    expect(resultOf(await streamTurn(c, { content: "image" })).output).toMatch(/\[image: image\/png, \d+ bytes\]/);
    const s = await server(c, "web");
    expect(s.state).toBe("ready");
    expect(s.transport).toBe("http");
    expect(s.target).toContain("/mcp");
    c.close();
  });

  test("the long-running tool reports progress events and completes", async () => {
    scriptCall(fake, "web__trigger-long-running-operation", { duration: 1, steps: 2 });
    const events = await streamTurn(await d.client(), { content: "long" });
    expect(resultOf(events).output).toContain("Long running operation completed");
    expect(events.filter((e) => e.toolProgress).map((e) => e.toolProgress!.progress)).toEqual(["1 of 2", "2 of 2"]);
  });

  test("arguments the server refuses come back as an error result", async () => {
    const r = await runCrabtalk(d.home, ["mcp", "call", "web", "get-sum", '{"a": "x"}', "--json"]);
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout).isError).toBe(true);
  });
});

describe("server-filesystem and server-memory", () => {
  test("the model lists a directory, then reads the file it found", async () => {
    fake.enqueue(
      sseReply(
        openaiSse({
          model: "fake-model",
          toolCalls: [{ id: "c1", name: "fs__list_directory", args: { path: notes } }],
        }),
      ),
      sseReply(
        openaiSse({
          model: "fake-model",
          toolCalls: [{ id: "c2", name: "fs__read_text_file", args: { path: join(notes, "hello.txt") } }],
        }),
      ),
      sseReply(openaiSse({ model: "fake-model", text: "read it" })),
    );
    const before = fake.requests.length;
    await streamTurn(await d.client(), { content: "what is in notes?" });
    expect(toolResultsOf(fake.requests[before + 1]!)[0]!.text).toContain("[FILE] hello.txt");
    expect(toolResultsOf(fake.requests[before + 2]!)[1]!.text).toContain("the crab says hello");
  });

  test("an entity written to server-memory is read back", async () => {
    scriptCall(fake, "memory__create_entities", {
      entities: [{ name: "Ferris", entityType: "crab", observations: ["likes rust"] }],
    });
    await streamTurn(await d.client(), { content: "remember" });
    scriptCall(fake, "memory__read_graph", {});
    const out = resultOf(await streamTurn(await d.client(), { content: "recall" })).output;
    expect(out).toContain("Ferris");
    expect(out).toContain("likes rust");
  });
});

describe("the mcp meta-tool", () => {
  test("an agent granted more than tool_threshold tools is offered `mcp`, which lists and calls them", async () => {
    const c = await d.client();
    await waitFor(async () => (await server(c, "many")).state === "ready", 10_000, "the eager server");
    expect((await server(c, "many")).toolCount).toBe(49);
    scriptCall(fake, "mcp", { server: "many" });
    const before = fake.requests.length;
    const listing = resultOf(await streamTurn(c, { agent: "big", content: "what can you use?" })).output;
    const offered = offeredTools(fake.requests[before]!);
    expect(offered).toContain("mcp");
    expect(offered.filter((t) => t.startsWith("many__"))).toEqual([]);
    expect(listing).toContain("- t44: Tool number 44.");
    scriptCall(fake, "mcp", { server: "many", tool: "t7", arguments: {} });
    expect(resultOf(await streamTurn(c, { agent: "big", content: "use t7" })).output).toBe("t7 ran");
    // A tool whose permission is "ask" cannot be approved through the meta-tool: refused, saying why.
    scriptCall(fake, "mcp", { server: "many", tool: "t3", arguments: {} });
    const asked = resultOf(await streamTurn(c, { agent: "big", content: "use t3" }));
    expect(asked.isError).toBe(true);
    expect(asked.output).toContain("needs approval");
    scriptCall(fake, "mcp", { server: "web", tool: "echo", arguments: { message: "not mine" } });
    const refused = resultOf(await streamTurn(c, { agent: "big", content: "use web" }));
    expect(refused.isError).toBe(true);
    expect(refused.output).toContain("not granted");
    // A server that connects only on its agent's first turn: that very turn is already offered `mcp`.
    expect((await server(c, "lazymany")).state).toBe("idle");
    scriptCall(fake, "mcp", { server: "lazymany", tool: "t1", arguments: {} });
    const lazyFirst = fake.requests.length;
    expect(resultOf(await streamTurn(c, { agent: "lazybig", content: "first turn" })).output).toBe("t1 ran");
    expect(offeredTools(fake.requests[lazyFirst]!)).toContain("mcp");
    expect(offeredTools(fake.requests[lazyFirst]!).filter((t) => t.startsWith("lazymany__"))).toEqual([]);
    // The agent under the threshold still sees each tool by name.
    scriptCall(fake, "web__echo", { message: "x" });
    const small = fake.requests.length;
    await streamTurn(c, { content: "echo" });
    expect(offeredTools(fake.requests[small]!)).toContain("fs__read_text_file");
    expect(offeredTools(fake.requests[small]!)).not.toContain("mcp");
    c.close();
  });
});

describe("an HTTP server that goes away", () => {
  test("calls answer unavailable while it is down; once it is back the next call reconnects", async () => {
    const c = await d.client();
    web.kill("SIGKILL");
    await web.exited;
    scriptCall(fake, "web__echo", { message: "anyone?" });
    const down = resultOf(await streamTurn(c, { content: "echo" }));
    expect(down.isError).toBe(true);
    expect(down.output).toContain("mcp server web unavailable:");
    expect((await server(c, "web")).state).toBe("failed");
    await startWeb();
    scriptCall(fake, "web__echo", { message: "back" });
    expect(resultOf(await streamTurn(c, { content: "echo" })).output).toBe("Echo: back");
    expect((await server(c, "web")).state).toBe("ready");
    c.close();
  });
});
