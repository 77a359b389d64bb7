/**
 * Lifecycle hooks observed in real turns of the in-process runtime, and
 * their isolation: a hook that throws, hangs or observes slowly never
 * changes a turn's result and never holds it beyond the hook's timeout.
 */
import { describe, expect, test } from "bun:test";
import type { ModelRequest, StreamFn } from "../../src/provider/types.ts";
import { isKind, type SessionEvent } from "../../src/session/events.ts";
import { reply, until } from "../agent/script.ts";
import { drain, kinds, makeRuntime } from "../helpers/runtime-kit.ts";

function model(): { stream: StreamFn; requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  return {
    requests,
    stream: (request, signal) => {
      requests.push(structuredClone(request));
      return reply({ text: "the answer" })(request, signal);
    },
  };
}

async function oneTurn(runtime: ReturnType<typeof makeRuntime>["runtime"], content = "hello") {
  const started = performance.now();
  const t = await runtime.startTurn({ agent: "crab", content, sender: "t", approver: { kind: "none" } });
  const events = await drain(t.events);
  return { events, ms: performance.now() - started, session: t.session.id };
}

describe("hooks in real turns", () => {
  test("build agent, before run, after run and observe each do their job", async () => {
    const m = model();
    const { runtime } = makeRuntime({ models: { m: m.stream }, agents: [{ name: "crab", system: "You are Crab." }] });
    const observed: SessionEvent[] = [];
    const afterRuns: { history: number; system?: string }[] = [];
    runtime.hooks.add({
      name: "ext:probe",
      buildAgent: async (agent) => ({ promptAddition: `Agent ${agent.name} may search the web.` }),
      beforeRun: async (turn) => [{ role: "user", content: `(memory) last said: ${turn.history.at(-1)!.content}` }],
      afterRun: async (turn) => {
        afterRuns.push({ history: turn.history.length, ...(turn.system ? { system: turn.system } : {}) });
      },
      observe: (e) => {
        observed.push(e);
      },
    });
    const { events, session } = await oneTurn(runtime);
    const request = m.requests[0]!;
    expect(request.system).toBe("You are Crab.\n\nAgent crab may search the web.");
    // Injected for this turn: before the user message in the request, recorded in the trace, not in history.
    expect(request.messages.map((x) => x.content)).toEqual(["(memory) last said: hello", "hello"]);
    const injected = events.find((e) => isKind(e, "injected"));
    expect(injected?.body.data).toEqual({
      source: "ext:probe",
      messages: [{ role: "user", content: "(memory) last said: hello" }],
    });
    const stored = await runtime.loadStored(session);
    expect(stored.messages.map((x) => x.content)).toEqual(["hello", "the answer"]);
    await until(() => afterRuns.length === 1 && observed.length === events.length);
    expect(afterRuns[0]).toEqual({ history: 2, system: "You are Crab.\n\nAgent crab may search the web." });
    expect(observed.map((e) => e.seq)).toEqual(events.map((e) => e.seq));
  });

  test("a throwing hook and a hanging one leave the turn's result unchanged; the trace says what failed", async () => {
    const m = model();
    const { runtime } = makeRuntime({ models: { m: m.stream } });
    const baseline = await oneTurn(runtime);
    runtime.hooks.add({
      name: "ext:broken",
      beforeRun: async () => {
        throw new Error("index corrupt");
      },
      buildAgent: async () => {
        throw new Error("no build today");
      },
    });
    runtime.hooks.add({
      name: "ext:hung",
      timeoutMs: 100,
      beforeRun: () => new Promise(() => {}),
    });
    const { events, ms } = await oneTurn(runtime);
    expect(kinds(events).filter((k) => k !== "notice") as string[]).toEqual(kinds(baseline.events));
    expect(events.at(-1)?.body.data).toMatchObject({ stopReason: "stop" });
    const notices = events.filter((e) => isKind(e, "notice")).map((e) => JSON.stringify(e.body.data));
    expect(notices.some((n) => n.includes("ext:broken") && n.includes("index corrupt"))).toBe(true);
    expect(notices.some((n) => n.includes("ext:hung") && n.includes("no answer within 100 ms"))).toBe(true);
    expect(ms).toBeLessThan(2000);
  });

  test("a throwing observer and a slow one cost the turn nothing; the failures are counted", async () => {
    const m = model();
    const { runtime } = makeRuntime({ models: { m: m.stream } });
    const baseline = await oneTurn(runtime);
    let thrown = 0;
    runtime.hooks.add({
      name: "ext:thrower",
      observe: () => {
        thrown++;
        throw new Error("observer bug");
      },
    });
    let slowSeen = 0;
    runtime.hooks.add({
      name: "ext:slow",
      observe: async () => {
        await Bun.sleep(200);
        slowSeen++;
      },
    });
    const { events, ms } = await oneTurn(runtime);
    expect(kinds(events)).toEqual(kinds(baseline.events));
    expect(events.at(-1)?.body.data).toMatchObject({ stopReason: "stop" });
    // The turn did not wait for a 200 ms-per-event observer.
    expect(ms).toBeLessThan(150);
    expect(slowSeen).toBeLessThan(events.length);
    await until(() => thrown === events.length);
    expect(runtime.hooks.observerStats().find((s) => s.hook === "ext:thrower")).toMatchObject({
      failures: events.length,
    });
  });
});
