/**
 * The event bus against the compiled daemon with a scripted provider:
 * agent:researcher:done starts writer with the payload in its template; a
 * glob subscription (cron:*:done) matches a cron job's result; PublishEvent
 * from a client (`crabtalk publish`) starts a turn; an A->B->A loop stops and
 * is recorded with its chain; subscribe/unsubscribe rewrite events.toml; a
 * delivery refused every time ends as a dead letter; and
 * an event not yet delivered when the daemon is killed (-9) is delivered
 * exactly once after the restart, and not again after another kill.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { waitFor } from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";

let fake: FakeProvider;
const homes: string[] = [];
beforeAll(async () => {
  fake = await FakeProvider.start();
  // Each agent answers with a marker naming it, so the next agent's request shows whose text it got.
  fake.route((req) => {
    const system = JSON.stringify((req.body as { messages: { role: string; content: unknown }[] }).messages[0]);
    const who = /I am (\w+)/.exec(system)?.[1] ?? "someone";
    return sseReply(openaiSse({ model: "fake-model", text: `${who}-findings` }));
  });
});
afterAll(async () => {
  await fake.stop();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function config(agents: string[], extra = ""): string {
  const defs = agents.map((a) => `[agents.${a}]\nmodel = "fake-model"\nsystem_prompt = "I am ${a}"\n`).join("\n");
  return `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n${defs}\n${extra}`;
}

function home(events: string, crons = ""): string {
  const h = tempHome("crabtalk-bus-");
  homes.push(h);
  writeFileSync(join(h, "events.toml"), events);
  if (crons) writeFileSync(join(h, "crons.toml"), crons);
  return h;
}

interface Status {
  subscriptions: { source: string; targetAgent: string }[];
  queued: number;
  deadLetters: { reason: string; targetAgent: string; event: { source: string; chain: string[] } }[];
}
async function status(h: string): Promise<Status> {
  const r = await runCrabtalk(h, ["subscriptions", "--json"]);
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as Status;
}

const userTexts = (marker: string) =>
  fake.requests.filter((r) => {
    const msgs = (r.body as { messages: { role: string; content: unknown }[] }).messages;
    return msgs.some(
      (m) =>
        m.role === "user" && (typeof m.content === "string" ? m.content : JSON.stringify(m.content)).includes(marker),
    );
  });

async function sendersOf(h: string, prefix: string): Promise<string[]> {
  const r = await runCrabtalk(h, ["sessions", "--json"]);
  const list = JSON.parse(r.stdout) as { sessions: { createdBy: string }[] };
  return list.sessions.map((s) => s.createdBy).filter((c) => c.startsWith(prefix));
}

describe("event bus", () => {
  test("agent:researcher:done starts writer with the payload; a glob matches cron results; publish starts a turn", async () => {
    const h = home(
      `[[subscription]]\nsource = "agent:researcher:done"\ntarget_agent = "writer"\nmessage = "Summarize for the team:\\n{payload}"\n\n[[subscription]]\nsource = "cron:*:done"\ntarget_agent = "writer"\nmessage = "cron said {payload} via {source}"\n\n[[subscription]]\nsource = "ext:hello"\ntarget_agent = "writer"\n`,
      `[[cron]]\nid = "nightly"\nschedule = "@every 1s"\nagent = "researcher"\nmessage = "night shift"\nonce = true\n`,
    );
    await using d = await startDaemon({ home: h, config: config(["researcher", "writer"]) });
    await waitFor(() => userTexts("Summarize for the team:\nresearcher-findings").length >= 1, 10_000, "writer run");
    await waitFor(() => userTexts("cron said researcher-findings via cron:nightly:done").length === 1, 10_000, "glob");
    const pub = await runCrabtalk(h, ["publish", "ext:hello", "-"], { stdin: "hello-payload-7" });
    expect(pub.stdout).toContain("published ext:hello");
    await waitFor(() => userTexts("hello-payload-7").length === 1, 10_000, "the published event's turn");
    const senders = await sendersOf(h, "event:");
    expect(senders).toContain("event:agent:researcher:done");
    expect(senders).toContain("event:cron:nightly:done");
    expect(senders).toContain("event:ext:hello");
    expect(d.stderr()).toContain("ext:hello -> writer: turn started");
  }, 30_000);

  test("an A->B->A loop stops and is recorded with its chain", async () => {
    const h = home(
      `[[subscription]]\nsource = "agent:alpha:done"\ntarget_agent = "beta"\n\n[[subscription]]\nsource = "agent:beta:done"\ntarget_agent = "alpha"\n`,
    );
    await using d = await startDaemon({ home: h, config: config(["alpha", "beta"]) });
    const c = await d.client();
    await c.request({ send: { agent: "alpha", content: "start the loop" } });
    await waitFor(async () => (await status(h)).deadLetters.length === 1, 10_000, "the loop's dead letter");
    const dead = (await status(h)).deadLetters[0]!;
    expect(dead.targetAgent).toBe("beta");
    expect(dead.reason).toContain("loop: beta is already on the chain with source agent:alpha:done");
    expect(dead.reason).toContain("beta@agent:alpha:done -> alpha@agent:beta:done -> beta@agent:alpha:done");
    // alpha (user), beta, alpha again: three turns, then nothing more.
    expect(await sendersOf(h, "event:")).toEqual(
      expect.arrayContaining(["event:agent:alpha:done", "event:agent:beta:done"]),
    );
    expect((await sendersOf(h, "event:")).length).toBe(2);
  }, 30_000);

  test("subscribe and unsubscribe rewrite events.toml; an unknown target is refused", async () => {
    const h = home("");
    await using _d = await startDaemon({ home: h, config: config(["writer"]) });
    const sub = await runCrabtalk(h, [
      "subscribe",
      "deploy:*",
      "--agent",
      "writer",
      "--message",
      "Deployed: {payload}",
    ]);
    expect(sub.stdout).toContain("subscribed writer to deploy:*");
    expect(readFileSync(join(h, "events.toml"), "utf8")).toContain('source = "deploy:*"');
    await runCrabtalk(h, ["publish", "deploy:web", "v42"]);
    await waitFor(() => userTexts("Deployed: v42").length === 1, 10_000, "the glob subscription's turn");
    const bad = await runCrabtalk(h, ["subscribe", "x", "--agent", "nobody"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('target_agent "nobody" is not configured');
    const un = await runCrabtalk(h, ["unsubscribe", "deploy:*"]);
    expect(un.stdout).toContain("removed 1 subscription(s)");
    expect((await status(h)).subscriptions).toEqual([]);
  }, 30_000);

  test("a delivery whose turn keeps being refused is retried, then dead-lettered with the reason", async () => {
    const h = home(`[[subscription]]\nsource = "job:*"\ntarget_agent = "writer"\n`);
    await using d = await startDaemon({ home: h, config: config(["writer"], "[budget]\ndaily_tokens = 10\n") });
    const c = await d.client();
    await c.request({ send: { agent: "writer", content: "spend the budget" } });
    expect((await runCrabtalk(h, ["publish", "job:2", "never-delivered"])).code).toBe(0);
    await waitFor(async () => (await status(h)).deadLetters.length === 1, 15_000, "the dead letter");
    const s = await status(h);
    expect(s.deadLetters[0]!.reason).toContain("the turn could not start after 4 attempts: daily token budget");
    expect(s.queued).toBe(0);
    expect(d.stderr()).toContain("job:2 -> writer: attempt 3 failed");
    const text = await runCrabtalk(h, ["subscriptions"]);
    expect(text.stdout).toContain("dead letters (1):");
    expect(userTexts("never-delivered")).toHaveLength(0);
  }, 30_000);

  test("kill -9 between publish and delivery: delivered exactly once after the restart, not again after another kill", async () => {
    const h = home(`[[subscription]]\nsource = "job:*"\ntarget_agent = "writer"\n`);
    // A spent daily budget makes the delivery's turn refused (and retried): the event waits in the queue.
    const d1 = await startDaemon({ home: h, config: config(["writer"], "[budget]\ndaily_tokens = 10\n") });
    const c = await d1.client();
    await c.request({ send: { agent: "writer", content: "spend the budget" } });
    const pub = await runCrabtalk(h, ["publish", "job:1", "queued-payload-9"]);
    expect(pub.code).toBe(0);
    await waitFor(() => d1.stderr().includes("job:1 -> writer: attempt 1 failed"), 10_000, "a refused delivery");
    await d1.kill9();
    expect(readFileSync(join(h, "bus-queue.jsonl"), "utf8")).toContain("queued-payload-9");
    const d2 = await startDaemon({ home: h, config: config(["writer"]) });
    await waitFor(() => d2.stderr().includes("job:1 -> writer: turn started"), 10_000, "delivery after restart");
    expect(d2.stderr()).toContain("delivering 1 event(s) left in the queue");
    await waitFor(() => userTexts("queued-payload-9").length === 1, 10_000, "the turn's request");
    await waitFor(async () => (await status(h)).queued === 0, 5000, "the queue to empty");
    await d2.kill9();
    const d3 = await startDaemon({ home: h, config: config(["writer"]) });
    expect((await status(h)).queued).toBe(0);
    expect(await sendersOf(h, "event:job:1")).toEqual(["event:job:1"]);
    expect(d3.stderr()).not.toContain("left in the queue");
    await d3.cleanup();
  }, 60_000);
});

describe("service sources", () => {
  test("a service's state changes publish service:<name>:<state>: a subscription to its running state starts a turn", async () => {
    const { serviceSection } = await import("./ext-kit.ts");
    const h = home(
      `[[subscription]]\nsource = "service:probe:running"\ntarget_agent = "watcher"\nmessage = "service probe is {payload}"\n`,
    );
    await using d = await startDaemon({
      home: h,
      config: config(["watcher"], serviceSection("probe", "probe.ts", [])),
    });
    await waitFor(() => userTexts("service probe is running").length > 0, 20_000, "the watcher's turn");
    expect(await sendersOf(d.home, "event:service:probe:running")).toHaveLength(1);
  }, 30_000);
});
