/**
 * The session runtime in process: in-memory store, scripted models. Turn
 * queueing, the attach seam, compaction, declared approvers and
 * reconfiguration between turns of a live session.
 */
import { describe, expect, test } from "bun:test";
import type { ModelRequest, StreamFn } from "../../src/provider/types.ts";
import { call, reply, scripted, tool, until } from "../agent/script.ts";
import { drain, kinds, makeRuntime, settingsFor } from "../helpers/runtime-kit.ts";
import { isKind } from "../../src/session/events.ts";

const SOURCE = { kind: "test" as const, name: "kit" };

/** A model that answers every request with `text`, recording requests. */
function echoModel(text: string): { stream: StreamFn; requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  const stream: StreamFn = (request, signal) => {
    requests.push(structuredClone(request));
    return reply({ text })(request, signal);
  };
  return { stream, requests };
}

describe("SessionRuntime in process", () => {
  test("turns on one session queue and run in order; each subscription sees exactly its turn", async () => {
    const m = echoModel("hi");
    const { runtime } = makeRuntime({ models: { m: m.stream } });
    const first = await runtime.startTurn({ agent: "crab", content: "one", sender: "t", approver: { kind: "none" } });
    const second = await runtime.startTurn({
      agent: "",
      content: "two",
      session: first.session.id,
      sender: "t",
      approver: { kind: "none" },
    });
    const [a, b] = await Promise.all([drain(first.events), drain(second.events)]);
    expect(kinds(a)).toEqual(["start", "chunk", "chunk", "modelEnd", "end"]);
    expect(kinds(b)).toEqual(["start", "chunk", "chunk", "modelEnd", "end"]);
    expect(a.at(-1)!.seq).toBeLessThan(b[0]!.seq);
    // The second request saw the first turn's messages: the turns ran one after the other.
    expect(m.requests[1]!.messages.map((x) => x.content)).toEqual(["one", "hi", "two"]);
  });

  test("attach after a seq replays the trace then goes live, no gap and no duplicate", async () => {
    const m = echoModel("answer");
    const { runtime } = makeRuntime({ models: { m: m.stream } });
    const t1 = await runtime.startTurn({ agent: "crab", content: "x", sender: "t", approver: { kind: "none" } });
    const firstTurn = await drain(t1.events);
    const attachment = await runtime.attach(t1.session.id, 2);
    expect(attachment.header.lastSeq).toBe(firstTurn.at(-1)!.seq);
    const t2 = await runtime.startTurn({
      agent: "",
      content: "y",
      session: t1.session.id,
      sender: "t",
      approver: { kind: "none" },
    });
    await drain(t2.events);
    const seen: number[] = [];
    for await (const e of attachment.events) {
      seen.push(e.seq);
      if (seen.length === firstTurn.length - 2 + 5) break;
    }
    attachment.close();
    const expected = Array.from({ length: seen.length }, (_, i) => 3 + i);
    expect(seen).toEqual(expected);
  });

  test("a compaction uses the hooks' prompt additions and tells after-compact hooks the summary", async () => {
    const requests: ModelRequest[] = [];
    const stream: StreamFn = (request, signal) => {
      requests.push(structuredClone(request));
      return reply({ text: request.system?.includes("You compact") ? "SUMMARY" : "answer" })(request, signal);
    };
    const { runtime } = makeRuntime({ models: { m: stream } });
    const summaries: string[] = [];
    runtime.hooks.add({
      name: "ext:notes",
      compactionPrompt: async () => "Keep every ticket number.",
      afterCompact: async ({ summary }) => {
        summaries.push(summary);
      },
    });
    const t = await runtime.startTurn({ agent: "crab", content: "x", sender: "t", approver: { kind: "none" } });
    await drain(t.events);
    const result = await runtime.compact(t.session.id);
    expect(result.tokensAfter).toBeGreaterThan(0);
    expect(requests.at(-1)!.system).toContain("Keep every ticket number.");
    await until(() => summaries.length === 1);
    expect(summaries).toEqual(["SUMMARY"]);
  });

  test("a delegated-style turn declaring its parent's session as approver gets its approval answered there", async () => {
    const s = scripted([reply({ calls: [call("c1", "danger", {})] }), reply({ text: "done" })]);
    let ran = false;
    const { runtime } = makeRuntime({
      models: { m: s.stream, p: echoModel("lead answer").stream },
      agents: [
        { name: "crab", model: "m" },
        { name: "lead", model: "p" },
      ],
      permissions: { global: { danger: "ask" }, agents: {} },
    });
    runtime.registry.setSource(SOURCE, [
      tool("danger", async () => {
        ran = true;
        return { output: "ran" };
      }),
    ]);
    // The parent: a session someone follows interactively (the delegator's client).
    const parentTurn = await runtime.startTurn({
      agent: "lead",
      content: "parent",
      sender: "t",
      approver: { kind: "requester" },
    });
    await drain(parentTurn.events);
    const parent = parentTurn.session.id;
    const attached = await runtime.attach(parent, undefined);
    const child = await runtime.startTurn({
      agent: "crab",
      content: "task",
      sender: `delegate:${parent}`,
      approver: { kind: "session", session: parent },
    });
    const childEvents = drain(child.events);
    for await (const e of attached.events) {
      if (isKind(e, "approval")) {
        expect(e.session).toBe(child.session.id);
        expect(e.body.data.session).toBe(child.session.id);
        expect(runtime.approve(child.session.id, e.body.data.callId, true)).toBe(true);
        break;
      }
    }
    attached.close();
    const events = await childEvents;
    expect(ran).toBe(true);
    expect(events.find((e) => isKind(e, "toolResult"))?.body.data).toMatchObject({ output: "ran", isError: false });
  });

  test("a turn whose approver is nobody is denied at once", async () => {
    const s = scripted([reply({ calls: [call("c1", "danger", {})] }), reply({ text: "ok" })]);
    const { runtime } = makeRuntime({
      models: { m: s.stream },
      permissions: { global: { danger: "ask" }, agents: {} },
    });
    runtime.registry.setSource(SOURCE, [tool("danger", async () => ({ output: "ran" }))]);
    const t = await runtime.startTurn({ agent: "crab", content: "x", sender: "cron:x", approver: { kind: "none" } });
    const events = await drain(t.events);
    const result = events.find((e) => isKind(e, "toolResult"));
    expect(result?.body.data).toMatchObject({ isError: true });
    expect(JSON.stringify(result?.body.data)).toContain("no interactive client is there to answer");
    expect(kinds(events)).not.toContain("approval");
  });

  test("the approval request follows the ToolStart that announces its call", async () => {
    const s = scripted([reply({ text: "let me", calls: [call("c1", "danger", {})] }), reply({ text: "ok" })]);
    const { runtime } = makeRuntime({
      models: { m: s.stream },
      permissions: { global: { danger: "ask" }, agents: {} },
    });
    runtime.registry.setSource(SOURCE, [tool("danger", async () => ({ output: "ran" }))]);
    const t = await runtime.startTurn({ agent: "crab", content: "x", sender: "t", approver: { kind: "requester" } });
    const seen: string[] = [];
    for await (const e of t.events) {
      seen.push(e.body.kind);
      if (isKind(e, "approval")) runtime.approve(t.session.id, e.body.data.callId, true);
      if (isKind(e, "end")) break;
    }
    expect(seen.indexOf("modelEnd")).toBeLessThan(seen.indexOf("toolStart"));
    expect(seen.indexOf("toolStart")).toBeLessThan(seen.indexOf("approval"));
  });

  test("reconfigure changes permissions, the approval timeout and the model between two turns", async () => {
    const a = echoModel("from a");
    const b = echoModel("from b");
    const calls = scripted([
      reply({ calls: [call("c1", "act", {})] }),
      reply({ text: "first" }),
      reply({ calls: [call("c2", "act", {})] }),
      reply({ text: "second" }),
    ]);
    const models = { a: calls.stream, b: b.stream, c: a.stream };
    const base = { models, agents: [{ name: "crab", model: "a" }] };
    const { runtime } = makeRuntime(base);
    let acted = 0;
    runtime.registry.setSource(SOURCE, [
      tool("act", async () => {
        acted++;
        return { output: "acted" };
      }),
    ]);
    const t1 = await runtime.startTurn({ agent: "crab", content: "1", sender: "t", approver: { kind: "requester" } });
    await drain(t1.events);
    expect(acted).toBe(1);

    // Now "act" needs approval, the timeout is short, nobody answers: denied after ~50 ms.
    runtime.reconfigure(
      settingsFor({ ...base, permissions: { global: { act: "ask" }, agents: {} }, approvalTimeoutMs: 50 }),
    );
    const started = Date.now();
    const t2 = await runtime.startTurn({
      agent: "",
      session: t1.session.id,
      content: "2",
      sender: "t",
      approver: { kind: "requester" },
    });
    const events = await drain(t2.events);
    const approval = events.find((e) => isKind(e, "approval"));
    expect(approval?.body.data).toMatchObject({ timeoutMs: 50 });
    expect(JSON.stringify(events.find((e) => isKind(e, "toolResult"))?.body.data)).toContain("within 0 s");
    expect(acted).toBe(1);
    expect(Date.now() - started).toBeLessThan(5000);

    // And the agent's model changes for the next turn of the same session.
    runtime.reconfigure(settingsFor({ ...base, agents: [{ name: "crab", model: "b" }] }));
    const t3 = await runtime.startTurn({
      agent: "",
      session: t1.session.id,
      content: "3",
      sender: "t",
      approver: { kind: "none" },
    });
    const third = await drain(t3.events);
    expect(b.requests).toHaveLength(1);
    expect(b.requests[0]!.model).toBe("b");
    expect(third.at(-1)?.body.data).toMatchObject({ model: "test-model", stopReason: "stop" });
  });
});
