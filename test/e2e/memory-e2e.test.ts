/**
 * Built-in memory against the compiled daemon and a scripted provider:
 * remember/recall across sessions, BM25 ranking on a fixed corpus, hand
 * edits seen by the next recall, forget, MEMORY.md in the system prompt,
 * auto-recall injected but never stored, memory = "own" and "off", and the
 * `crabtalk memory` commands on the same files.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { FakeProvider, sseReply, type RecordedRequest, type Reply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import {
  contentText,
  lastUserText,
  messagesOf,
  sessionOf,
  streamTurn,
  toolResultsOf,
  turnConfig,
  waitFor,
  systemTextOf,
} from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";

/** "call TOOL {json}" calls TOOL with those arguments; after a tool, its result is echoed; else an echo. */
export function toolBrain(req: RecordedRequest): Reply {
  const last = messagesOf(req).at(-1);
  if (last?.role === "tool") return sseReply(openaiSse({ text: `tool said: ${contentText(last).slice(0, 200)}` }));
  const said = lastUserText(req);
  const m = /^call (\w+) (\{[\s\S]*\})$/.exec(said);
  if (m) return sseReply(openaiSse({ toolCalls: [{ id: `c${req.index}`, name: m[1]!, args: JSON.parse(m[2]!) }] }));
  return sseReply(openaiSse({ text: `echo: ${said.slice(0, 60)}` }));
}

let fake: FakeProvider;
let d: DaemonHandle;
let home: string;
let mem: string;

const call = (tool: string, args: Record<string, unknown>) => `call ${tool} ${JSON.stringify(args)}`;

/** Runs one turn (a new session unless given) and returns the first tool result the model then saw. */
async function tool(agent: string, name: string, args: Record<string, unknown>, session?: number): Promise<string> {
  const c = await d.client();
  try {
    await streamTurn(c, { agent, content: call(name, args), ...(session ? { session } : {}) });
  } finally {
    c.close();
  }
  return toolResultsOf(fake.requests.at(-1)!).at(-1)!.text;
}

function entryFile(name: string, description: string, content: string, extra = ""): string {
  return `---\nname: ${name}\ndescription: ${description}\n${extra}---\n\n${content}\n`;
}

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route(toolBrain);
  home = tempHome("crabtalk-memory-");
  mem = join(home, "memory");
  const agent = (name: string, memory: string) =>
    `\n[agents.${name}]\nmodel = "fake-model"\ntools = ["memory/*"]\nmemory = "${memory}"\n`;
  const config = `${turnConfig(fake.url, 'tools = ["memory/*"]\n')}${agent("alice", "own")}${agent("bob", "own")}${agent("quiet", "off")}\n[memory]\nrecall_limit = 2\n`;
  d = await startDaemon({ home, config });
});

afterAll(async () => {
  await d.cleanup();
  await fake[Symbol.asyncDispose]();
  rmSync(home, { recursive: true, force: true });
});

test("remember writes a file a person can read; recall in a later session finds it; forget removes it", async () => {
  const saved = await tool("crab", "remember", {
    name: "Deploy target",
    description: "where we deploy: the cluster",
    content: "We deploy to the zebra cluster in Frankfurt.",
    aliases: ["prod"],
  });
  expect(saved).toBe(`remembered "Deploy target" (${join(mem, "deploy-target.md")})`);
  expect(readFileSync(join(mem, "deploy-target.md"), "utf8")).toBe(
    '---\nname: Deploy target\ndescription: "where we deploy: the cluster"\naliases:\n  - prod\n---\n\nWe deploy to the zebra cluster in Frankfurt.\n',
  );
  const found = await tool("crab", "recall", { query: "zebra" });
  expect(found).toStartWith("## Deploy target\nwhere we deploy: the cluster\naliases: prod\n\nWe deploy to the zebra");
  expect(await tool("crab", "recall", { query: "zeb*" })).toStartWith("## Deploy target");

  expect(await tool("crab", "forget", { name: "prod" })).toBe(`forgot "prod" (${join(mem, "deploy-target.md")})`);
  expect(existsSync(join(mem, "deploy-target.md"))).toBe(false);
  expect(await tool("crab", "recall", { query: "zebra" })).toBe('nothing in memory matches "zebra"');
  expect(await tool("crab", "forget", { name: "prod" })).toBe('no memory entry is called "prod"');
});

test("a rare term outranks a common one; a hand edit is found by its new words, at once", async () => {
  mkdirSync(mem, { recursive: true });
  for (let i = 0; i < 6; i++)
    writeFileSync(
      join(mem, `server-${i}.md`),
      entryFile(`Server ${i}`, "notes on a server", `The server ${i} runs the server software on a server rack.`),
    );
  writeFileSync(join(mem, "orchestrator.md"), entryFile("Orchestrator", "cluster notes", "One kubernetes server."));
  const ranked = await tool("crab", "recall", { query: "server kubernetes", limit: 3 });
  expect(ranked.split("\n\n## ")[0]).toStartWith("## Orchestrator");

  const cli = await runCrabtalk(home, ["memory", "search", "server kubernetes", "--json"]);
  expect(cli.code).toBe(0);
  const hits = JSON.parse(cli.stdout) as { name: string; score: number }[];
  expect(hits[0]!.name).toBe("Orchestrator");
  expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);

  writeFileSync(join(mem, "orchestrator.md"), entryFile("Orchestrator", "cluster notes", "One nomad platypus."));
  expect(await tool("crab", "recall", { query: "platypus" })).toStartWith("## Orchestrator");
  expect(await tool("crab", "recall", { query: "kubernetes" })).toBe('nothing in memory matches "kubernetes"');
  rmSync(join(mem, "orchestrator.md"));
  expect(await tool("crab", "recall", { query: "platypus" })).toBe('nothing in memory matches "platypus"');
});

test("MEMORY.md is in the system prompt inside <memory>, hand-edited or replaced by the memory tool", async () => {
  writeFileSync(join(mem, "MEMORY.md"), "The user prefers metric units.\n");
  await tool("crab", "recall", { query: "anything" });
  const system = () => systemTextOf(fake.requests.at(-1)!);
  expect(system()).toContain("<memory>\nThe user prefers metric units.\n</memory>");
  expect(await tool("crab", "memory", { content: "Call the user Sam." })).toBe(
    `MEMORY.md replaced (${join(mem, "MEMORY.md")})`,
  );
  const c = await d.client();
  await streamTurn(c, { content: "hello" });
  c.close();
  expect(system()).toContain("<memory>\nCall the user Sam.\n</memory>");
  expect(system()).not.toContain("metric");
});

test("auto-recall injects the top hits into the provider request, traced, but not into history", async () => {
  writeFileSync(join(mem, "coffee.md"), entryFile("Coffee order", "what the user drinks", "A flat white, no sugar."));
  const c = await d.client();
  const events = await streamTurn(c, { content: "what coffee should I order?" });
  const msgs = messagesOf(fake.requests.at(-1)!);
  const injected = msgs.at(-2)!;
  expect(injected.role).toBe("user");
  expect(contentText(injected)).toContain("<recalled>");
  expect(contentText(injected)).toContain("## Coffee order\nwhat the user drinks\n\nA flat white, no sugar.");
  expect(contentText(msgs.at(-1)!)).toBe("what coffee should I order?");
  const trace = events.find((e) => e.injected)!.injected!;
  expect(trace.source).toBe("memory");
  expect(trace.messages[0]!.content).toContain("Coffee order");
  const history = (await c.request({ getHistory: { session: sessionOf(events) } })).history!;
  expect(history.messages.map((m) => m.content)).toEqual([
    "what coffee should I order?",
    "echo: what coffee should I order?",
  ]);
  c.close();
});

test('memory = "own" keeps two agents apart; memory = "off" refuses the tools', async () => {
  await tool("alice", "remember", { name: "Plan", description: "alice's plan", content: "The walrus strategy." });
  expect(existsSync(join(mem, "alice", "plan.md"))).toBe(true);
  expect(await tool("alice", "recall", { query: "walrus" })).toStartWith("## Plan");
  expect(await tool("bob", "recall", { query: "walrus" })).toBe('nothing in memory matches "walrus"');
  expect(await tool("crab", "recall", { query: "walrus" })).toBe('nothing in memory matches "walrus"');
  await tool("bob", "memory", { content: "Bob's notes." });
  await tool("alice", "recall", { query: "x" });
  expect(contentText(messagesOf(fake.requests.at(-1)!)[0]!)).not.toContain("Bob's notes");
  expect(await tool("quiet", "recall", { query: "walrus" })).toBe(
    'memory is off for agent quiet ([agents.quiet] memory = "off")',
  );
  const own = await runCrabtalk(home, ["memory", "--agent", "alice", "--json"]);
  expect((JSON.parse(own.stdout) as { name: string }[]).map((e) => e.name)).toEqual(["Plan"]);
});

test("crabtalk memory lists, shows, edits through $EDITOR (checking the frontmatter) and removes", async () => {
  const list = await runCrabtalk(home, ["memory"]);
  expect(list.code).toBe(0);
  expect(list.stdout).toContain("Coffee order  what the user drinks");
  const show = await runCrabtalk(home, ["memory", "show", "coffee order"]);
  expect(show.stdout).toContain(`file: ${join(mem, "coffee.md")}\n\nA flat white, no sugar.`);

  const edit = await runCrabtalk(home, ["memory", "edit", "Coffee order"], {
    env: { EDITOR: "sed -i s/flat.white/cortado/" },
  });
  expect(edit.code).toBe(0);
  expect(await tool("crab", "recall", { query: "cortado" })).toStartWith("## Coffee order");

  const broken = await runCrabtalk(home, ["memory", "edit", "Coffee order"], {
    env: { EDITOR: "sed -i /^description:/d" },
  });
  expect(broken.code).toBe(1);
  expect(broken.stderr).toContain(`${join(mem, "coffee.md")}: its frontmatter has no "description"`);
  await tool("crab", "recall", { query: "cortado" });
  const skipped = `memory entry ${join(mem, "coffee.md")} skipped: its frontmatter has no "description"`;
  await waitFor(() => d.stderr().includes(skipped), 5000, "the skipped entry's log line");

  const rm = await runCrabtalk(home, ["memory", "rm", "Server 1"]);
  expect(rm.stdout).toBe(`removed ${join(mem, "server-1.md")}\n`);
  expect(await tool("crab", "recall", { query: "server", limit: 10 })).not.toContain("## Server 1\n");
  expect((await runCrabtalk(home, ["memory", "show", "Server 1"])).code).toBe(1);
});

test('backend = "off": no memory tools, no MEMORY.md in the prompt, no auto-recall (an extension may provide them)', async () => {
  const offHome = tempHome("crabtalk-memory-off-");
  mkdirSync(join(offHome, "memory"), { recursive: true });
  writeFileSync(join(offHome, "memory", "MEMORY.md"), "Never shown.\n");
  writeFileSync(join(offHome, "memory", "tea.md"), entryFile("Tea", "a drink", "Green tea."));
  const config = `${turnConfig(fake.url, 'tools = ["memory/*", "read"]\n')}\n[memory]\nbackend = "off"\nrecall_limit = 3\n`;
  await using off = await startDaemon({ home: offHome, config });
  const c = await off.client();
  await streamTurn(c, { content: "tea please" });
  c.close();
  const req = fake.requests.at(-1)!;
  const body = req.body as { tools?: { function: { name: string } }[] };
  expect((body.tools ?? []).map((t) => t.function.name)).toEqual(["read"]);
  expect(JSON.stringify(messagesOf(req))).not.toContain("Never shown");
  expect(JSON.stringify(messagesOf(req))).not.toContain("Green tea");
  await waitFor(
    () => off.stderr().includes('agent crab: grant "memory/*" matches no tool yet'),
    5000,
    "the start-up warning",
  );
  rmSync(offHome, { recursive: true, force: true });
});
