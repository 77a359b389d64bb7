/**
 * A turn's user message is in the store before its model call starts: a
 * crash once the request is out (billed, possibly answered) must not lose
 * the question. The store here is slow to write messages, as a busy disk's
 * fsync is, so a model call that does not wait for the write sees it
 * missing.
 */
import { expect, test } from "bun:test";
import type { StreamFn } from "../../src/provider/types.ts";
import { SessionRuntime } from "../../src/session/runtime.ts";
import { UsageLedger } from "../../src/session/usage.ts";
import { MemorySessionStore } from "../../src/store/memory.ts";
import type { NewRecord } from "../../src/store/types.ts";
import { reply } from "../agent/script.ts";
import { drain, settingsFor } from "../helpers/runtime-kit.ts";

/** A memory store whose batches holding a message take 20 ms to write; `written` lists message texts once stored. */
class SlowDiskStore extends MemorySessionStore {
  readonly written: string[] = [];
  override async append(id: number, records: readonly NewRecord[]): Promise<void> {
    if (records.some((r) => r.kind === "message")) await new Promise<void>((resolve) => setTimeout(resolve, 20));
    await super.append(id, records);
    for (const r of records) if (r.kind === "message") this.written.push(String(r.message.content));
  }
}

test("the user message is written before the model is called, on a new session and a continued one", async () => {
  const store = new SlowDiskStore();
  const onDiskAtCall: string[][] = [];
  const stream: StreamFn = (request, signal) => {
    onDiskAtCall.push([...store.written]);
    return reply({ text: `answer ${onDiskAtCall.length}` })(request, signal);
  };
  const runtime = new SessionRuntime(
    { store, usage: new UsageLedger(null, undefined) },
    settingsFor({ models: { m: stream } }),
  );
  const first = await runtime.startTurn({ agent: "crab", content: "one", sender: "t", approver: { kind: "none" } });
  await drain(first.events);
  const second = await runtime.startTurn({
    agent: "",
    session: first.session.id,
    content: "two",
    sender: "t",
    approver: { kind: "none" },
  });
  await drain(second.events);
  expect(onDiskAtCall).toEqual([["one"], ["one", "answer 1", "two"]]);
});

test("the agent is built while the question is written: a slow prompt hook holds back the model call, not the write", async () => {
  const store = new SlowDiskStore();
  const runtime = new SessionRuntime(
    { store, usage: new UsageLedger(null, undefined) },
    settingsFor({ models: { m: reply({ text: "answer" }) } }),
  );
  // The hook answers only once the question is on disk: a turn that built its agent before writing it waits for ever.
  const seen: string[][] = [];
  runtime.hooks.add({
    name: "slow-prompt",
    timeoutMs: 2000,
    turnPrompt: async () => {
      const deadline = Date.now() + 1000;
      while (!store.written.includes("one") && Date.now() < deadline) await Bun.sleep(2);
      seen.push([...store.written]);
      return "<memory>kept</memory>";
    },
  });
  const t = await runtime.startTurn({ agent: "crab", content: "one", sender: "t", approver: { kind: "none" } });
  const events = await drain(t.events);
  expect(seen).toEqual([["one"]]);
  expect(events.at(-1)!.body.kind).toBe("end");
  expect((events.at(-1)!.body.data as { stopReason: string }).stopReason).not.toBe("error");
});
