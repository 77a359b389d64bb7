/**
 * SubscribeEvents against the compiled binary: one connection holds a
 * subscription to every agent and one filtered to a single agent, sees
 * turns that other clients start on other sessions (agent, session, kind
 * as the proto case name, the numbered payload, timestamp), and keeps
 * answering other requests multiplexed on it by request_id meanwhile.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { CrabtalkClient } from "../../src/client/client.ts";
import type { AgentEvent, ServerMessage, StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, gate, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";

setDefaultTimeout(30_000);

let fake: FakeProvider;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({
    config: `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n[agents.owl]\nmodel = "fake-model"\n`,
  });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

/** Reads AgentEvents in the background until `enough` says so. */
function collect(
  stream: AsyncIterable<ServerMessage>,
  enough: (all: AgentEvent[]) => boolean,
): { events: AgentEvent[]; done: Promise<void> } {
  const events: AgentEvent[] = [];
  const done = (async () => {
    for await (const r of stream) {
      if (r.event) events.push(r.event);
      if (enough(events)) break;
    }
  })();
  return { events, done };
}

async function turnFrom(c: CrabtalkClient, agent: string, content: string): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const r of c.stream({ stream: { agent, content } })) if (r.stream) out.push(r.stream);
  return out;
}

const endsOf = (n: number) => (all: AgentEvent[]) => all.filter((e) => e.kind === "end").length >= n;

test("subscriptions see other clients' turns across sessions, filtered by agent, while the connection serves other requests", async () => {
  const held = gate();
  fake.route((req) => {
    const body = req.body as { messages: { content: unknown }[] };
    const crab = JSON.stringify(body.messages).includes("to crab");
    return sseReply(
      openaiSse({ text: crab ? "crab answers slowly" : "owl answers", textDeltas: 6 }),
      crab ? { gate: held.promise, gateAfterBytes: 400 } : {},
    );
  });

  const watcher = await d.client();
  const all = collect(watcher.stream({ subscribeEvents: {} }), endsOf(2));
  const owlOnly = collect(watcher.stream({ subscribeEvents: { agent: "owl" } }), endsOf(1));
  // Frames on one connection are routed in order and subscribing is synchronous: once this ping is answered both subscriptions exist.
  expect((await watcher.request({ ping: {} })).msg).toBe("pong");

  const sender = await d.client();
  const crabTurn = turnFrom(sender, "crab", "hello to crab");
  await fake.waitForRequests(1);
  const owlTurn = turnFrom(sender, "owl", "hello to owl");
  const owlEvents = await owlTurn;

  // The crab turn is held mid-stream; the watcher's connection, carrying two open subscriptions, still answers at once.
  const answers = await Promise.all([
    watcher.request({ ping: {} }),
    watcher.request({ sessions: {} }),
    watcher.request({ status: {} }),
  ]);
  expect(answers.map((a) => a.msg)).toEqual(["pong", "sessions", "status"]);
  expect(all.events.some((e) => e.agent === "crab" && e.kind === "start")).toBe(true);
  expect(all.events.some((e) => e.agent === "crab" && e.kind === "end")).toBe(false);
  held.release();
  const crabEvents = await crabTurn;
  await Promise.all([all.done, owlOnly.done]);

  const crabSession = crabEvents[0]!.session;
  const owlSession = owlEvents[0]!.session;
  expect(crabSession).not.toBe(owlSession);
  const bySession = (s: number) => all.events.filter((e) => e.session === s);
  // Every event of each turn, in order, carrying the same numbered payload the sender got.
  expect(bySession(crabSession).map((e) => e.payload)).toEqual(crabEvents);
  expect(bySession(owlSession).map((e) => e.payload)).toEqual(owlEvents);
  // Daemon-wide events (session 0: bus events such as agent:owl:done, reloads, notices) reach a global watcher too.
  for (const e of all.events.filter((x) => x.session !== 0)) {
    expect(e.agent).toBe(e.session === crabSession ? "crab" : "owl");
    expect(e.timestampMs).toBe(e.payload!.timestampMs);
    expect(e.timestampMs).toBeGreaterThan(Date.now() - 60_000);
    // kind is the proto case name: "model_end", never the TS field "modelEnd".
    expect(e.kind).toBe(e.payload!.event!.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  }
  expect(new Set(all.events.filter((x) => x.session !== 0).map((e) => e.kind))).toEqual(
    new Set(["start", "chunk", "model_end", "end"]),
  );
  // The filtered subscription saw the owl turn and nothing else.
  expect(owlOnly.events.map((e) => e.payload)).toEqual(owlEvents);
  expect(owlOnly.events.every((e) => e.agent === "owl")).toBe(true);

  // Breaking out unsubscribed both streams; the connection still works.
  expect((await watcher.request({ ping: {} })).msg).toBe("pong");
  watcher.close();
  sender.close();
});
