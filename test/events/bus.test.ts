/**
 * The event bus over a real in-process runtime (scripted model): a chain of
 * ten agents, each subscribed to the previous one's done event, stops at the
 * hop limit and records the chain; globs match as documented.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SubscriptionSpec } from "../../src/config/events.ts";
import { EventBusService, MAX_HOPS } from "../../src/events/bus.ts";
import { globMatch } from "../../src/util/glob.ts";
import { BusJournal } from "../../src/events/journal.ts";
import { reply, scripted } from "../agent/script.ts";
import { makeRuntime } from "../helpers/runtime-kit.ts";
import { waitFor } from "../helpers/turn-kit.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("event bus", () => {
  test(`a chain of distinct agents stops past ${MAX_HOPS} hops and is recorded with its chain`, async () => {
    const names = Array.from({ length: 11 }, (_, i) => `a${i}`);
    const m = scripted(Array.from({ length: 20 }, (_, i) => reply({ text: `step ${i}` })));
    const { runtime } = makeRuntime({ models: { m: m.stream }, agents: names.map((name) => ({ name })) });
    const subs: SubscriptionSpec[] = names
      .slice(0, -1)
      .map((n, i) => ({ source: `agent:${n}:done`, targetAgent: names[i + 1]!, message: "", once: false }));
    const dir = mkdtempSync(join(tmpdir(), "crabtalk-bus-unit-"));
    dirs.push(dir);
    const bus = new EventBusService({
      runtime,
      queueFile: join(dir, "q.jsonl"),
      journal: new BusJournal(join(dir, "journal.jsonl")),
      deadFile: join(dir, "dead.json"),
      subscriptions: () => subs,
      onOnce: () => undefined,
    });
    const remove = runtime.hooks.add({ name: "bus", observe: (e) => bus.observe(e) });
    await runtime.startTurn({ agent: "a0", content: "go", sender: "t", approver: { kind: "none" } });
    await waitFor(() => bus.deadLetters().length === 1, 10_000, "the hop-limit dead letter");
    const dead = bus.deadLetters()[0]!;
    expect(dead.reason).toStartWith(`hop limit: delivery would be hop ${MAX_HOPS + 1}`);
    expect(dead.event.source).toBe(`agent:a${MAX_HOPS}:done`);
    expect(dead.reason).toContain("a1@agent:a0:done -> a2@agent:a1:done");
    // a0 by the user plus MAX_HOPS deliveries.
    expect(m.requests.length).toBe(MAX_HOPS + 1);
    await waitFor(() => bus.queued === 0, 5000, "the queue to empty");
    remove();
    bus.close();
  });

  test("session:<id>:end follows each turn of that session, with its final text", async () => {
    const m = scripted([reply({ text: "first answer" }), reply({ text: "follow-up" })]);
    const { runtime } = makeRuntime({ models: { m: m.stream }, agents: [{ name: "a" }, { name: "b" }] });
    const dir = mkdtempSync(join(tmpdir(), "crabtalk-bus-unit-"));
    dirs.push(dir);
    const subs: SubscriptionSpec[] = [];
    const bus = new EventBusService({
      runtime,
      queueFile: join(dir, "q.jsonl"),
      journal: new BusJournal(join(dir, "journal.jsonl")),
      deadFile: join(dir, "dead.json"),
      subscriptions: () => subs,
      onOnce: () => undefined,
    });
    const remove = runtime.hooks.add({ name: "bus", observe: (e) => bus.observe(e) });
    const first = await runtime.startTurn({ agent: "a", content: "go", sender: "t", approver: { kind: "none" } });
    subs.push({
      source: `session:${first.session.id}:end`,
      targetAgent: "b",
      message: "ended: {payload}",
      once: false,
    });
    await waitFor(() => m.requests.length === 2, 10_000, "b's turn");
    const last = m.requests[1]!.messages.at(-1)!;
    expect(last.content).toBe("ended: first answer");
    remove();
    bus.close();
  });

  test("globs: * matches any run of characters; without * the match is exact", () => {
    expect(globMatch("cron:*:done", "cron:nightly:done")).toBe(true);
    expect(globMatch("cron:*:done", "cron:nightly:failed")).toBe(false);
    expect(globMatch("agent:*", "agent:a:b:done")).toBe(true);
    expect(globMatch("a.b", "axb")).toBe(false);
    expect(globMatch("deploy:web", "deploy:web")).toBe(true);
  });
});
