/**
 * The two runtime seams skills and memory need, in the in-process runtime:
 * a per-turn prompt addition (recomputed every turn, unlike buildAgent's,
 * so text edited on disk shows in the next turn) and expandInput (rewrites
 * the message the turn runs and stores, or refuses the turn before a
 * session is created).
 */
import { expect, test } from "bun:test";
import type { ModelRequest, StreamFn } from "../../src/provider/types.ts";
import { SessionError } from "../../src/session/errors.ts";
import { reply } from "../agent/script.ts";
import { drain, makeRuntime } from "../helpers/runtime-kit.ts";

function model(): { stream: StreamFn; requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  return {
    requests,
    stream: (request, signal) => {
      requests.push(structuredClone(request));
      return reply({ text: "ok" })(request, signal);
    },
  };
}

test("turnPrompt is asked every turn and follows the cached buildAgent addition", async () => {
  const m = model();
  const { runtime } = makeRuntime({ models: { m: m.stream }, agents: [{ name: "crab", system: "You are Crab." }] });
  let memory = "likes tea";
  let builds = 0;
  runtime.hooks.add({
    name: "probe",
    buildAgent: async () => {
      builds++;
      return { promptAddition: "static part" };
    },
    turnPrompt: async (agent) => `<memory>${agent.name} ${memory}</memory>`,
  });
  const run = async (content: string) =>
    drain((await runtime.startTurn({ agent: "crab", content, sender: "t", approver: { kind: "none" } })).events);
  await run("one");
  memory = "likes coffee";
  await run("two");
  expect(m.requests.map((r) => r.system)).toEqual([
    "You are Crab.\n\nstatic part\n\n<memory>crab likes tea</memory>",
    "You are Crab.\n\nstatic part\n\n<memory>crab likes coffee</memory>",
  ]);
  expect(builds).toBe(1);
});

test("expandInput rewrites what the turn runs and stores; a refusal creates no session", async () => {
  const m = model();
  const { runtime, store } = makeRuntime({ models: { m: m.stream } });
  runtime.expandInput = async (agent, content) => {
    if (content.startsWith("/no")) throw new SessionError("forbidden", `not for ${agent}`);
    return content.replace("/x", "expanded");
  };
  const t = await runtime.startTurn({ agent: "crab", content: "/x go", sender: "t", approver: { kind: "none" } });
  await drain(t.events);
  expect(m.requests[0]!.messages.at(-1)!.content).toBe("expanded go");
  expect((await runtime.loadStored(t.session.id)).messages[0]!.content).toBe("expanded go");
  const before = (await store.list({ offset: 0, limit: 100 })).total;
  const refused = await runtime
    .startTurn({ agent: "crab", content: "/no", sender: "t", approver: { kind: "none" } })
    .catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(SessionError);
  expect((refused as SessionError).kind).toBe("forbidden");
  expect((await store.list({ offset: 0, limit: 100 })).total).toBe(before);
});
