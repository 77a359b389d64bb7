/**
 * A turn on a stored session that is not in memory: the runtime checks it
 * against the store's summary, then resumes it with the turn's opening (its
 * start and question), which the store writes while it reads (opening.ts).
 * What clients see and what the log holds must be what the turn would have
 * written itself: the start first and numbered after the log's last seq,
 * every seq once, the question before the answer; a refused opening ends
 * the turn with 507; a turn refused by its checks writes nothing. Over the
 * file store (as the daemon runs) and the memory twin.
 */
import { describe, expect, test } from "bun:test";
import type { SessionEvent } from "../../src/session/events.ts";
import { SessionRuntime } from "../../src/session/runtime.ts";
import { UsageLedger } from "../../src/session/usage.ts";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import { MemorySessionStore } from "../../src/store/memory.ts";
import type { NewRecord, ResumedSession, SessionStore, TurnOpening } from "../../src/store/types.ts";
import { reply, scripted } from "../agent/script.ts";
import { drain, kinds, settingsFor } from "../helpers/runtime-kit.ts";
import { collect, tempDir } from "../store/helpers.ts";

/** Wraps the store's resume to count the openings it took. */
function countOpenings(store: SessionStore): { taken: number; offered: number } {
  const counts = { taken: 0, offered: 0 };
  const resume = store.resume.bind(store);
  store.resume = async (id: number, opening?: TurnOpening): Promise<ResumedSession | undefined> => {
    if (opening) counts.offered++;
    const resumed = await resume(id, opening);
    if (resumed?.opened) counts.taken++;
    return resumed;
  };
  return counts;
}

function runtimeOver(store: SessionStore, answers: number, agents?: { name: string }[]) {
  const model = scripted(Array.from({ length: answers }, (_, i) => reply({ text: `answer ${i + 1}` })));
  const runtime = new SessionRuntime(
    { store, usage: new UsageLedger(null, undefined) },
    settingsFor({ models: { m: model.stream }, ...(agents ? { agents } : {}) }),
  );
  return { runtime, model };
}

async function turn(runtime: SessionRuntime, content: string, session?: number): Promise<SessionEvent[]> {
  const t = await runtime.startTurn({
    agent: session ? "" : "crab",
    content,
    ...(session ? { session } : {}),
    sender: "t",
    approver: { kind: "none" },
  });
  const events = await drain(t.events);
  await t.session.settled();
  return events;
}

/** Event types with their seqs, and message texts, in log order. */
async function logOf(store: SessionStore, id: number): Promise<string[]> {
  const out: string[] = [];
  for (const r of await collect(store.records(id))) {
    if (r.kind === "event" && r.event.type !== "chunk") out.push(`${r.event.type}#${r.event.seq}`);
    else if (r.kind === "message") out.push(`${r.message.role}:${r.message.content}`);
  }
  return out;
}

async function fileStore(dir: string): Promise<JsonlSessionStore> {
  return JsonlSessionStore.open(dir, { fsync: "messages" });
}

describe("a turn on a session resumed for it", () => {
  test("has its start and question written by the resume, and reads to clients and on disk as any turn", async () => {
    await using dir = await tempDir();
    const store = await fileStore(dir.path);
    const counts = countOpenings(store);
    const { runtime, model } = runtimeOver(store, 2);
    const first = await turn(runtime, "first");
    const id = first[0]!.session;
    await runtime.kill(id);
    const second = await turn(runtime, "second", id);
    expect(counts).toEqual({ taken: 1, offered: 1 });
    // Clients: the start first, numbered right after the first turn's end, then every seq once, in order.
    const lastOfFirst = first.at(-1)!.seq;
    expect(second[0]!.body.kind).toBe("start");
    expect(second[0]!.seq).toBe(lastOfFirst + 1);
    expect(second[0]!.turn).toBe(lastOfFirst + 1);
    expect(second.map((e) => e.seq)).toEqual(second.map((_, i) => lastOfFirst + 1 + i));
    expect(kinds(second).at(-1)).toBe("end");
    // The model: the first turn, then the question.
    expect(model.requests[1]!.messages.map((m) => m.content)).toEqual(["first", "answer 1", "second"]);
    // The log: both turns whole, in order, each start before its question.
    const log = await logOf(store, id);
    const end1 = log.indexOf(`end#${lastOfFirst}`);
    expect(log.slice(end1 + 1, end1 + 3)).toEqual([`start#${lastOfFirst + 1}`, "user:second"]);
    expect(log.at(-1)).toBe(`end#${second.at(-1)!.seq}`);
    expect(log.filter((l) => l.startsWith("assistant:"))).toEqual(["assistant:answer 1", "assistant:answer 2"]);
    // What a later resume reads back.
    await runtime.kill(id);
    const loaded = (await store.load(id))!;
    expect(loaded.messages.map((m) => m.content)).toEqual(["first", "answer 1", "second", "answer 2"]);
    expect(loaded.lastSeq).toBe(second.at(-1)!.seq);
    expect(loaded.interruptedTurn).toBeUndefined();
    await store.close();
  });

  test("two turns sent at once to it: the first opens it, the second waits its turn", async () => {
    await using dir = await tempDir();
    const store = await fileStore(dir.path);
    const counts = countOpenings(store);
    const { runtime, model } = runtimeOver(store, 3);
    const id = (await turn(runtime, "first"))[0]!.session;
    await runtime.kill(id);
    const both = await Promise.all([
      runtime.startTurn({ agent: "", content: "second", session: id, sender: "a", approver: { kind: "none" } }),
      runtime.startTurn({ agent: "", content: "third", session: id, sender: "b", approver: { kind: "none" } }),
    ]);
    const [a, b] = await Promise.all(both.map((t) => drain(t.events)));
    await both[0]!.session.settled();
    expect(counts.taken).toBe(1);
    expect(b![0]!.seq).toBe(a!.at(-1)!.seq + 1);
    expect(model.requests[2]!.messages.map((m) => m.content)).toEqual([
      "first",
      "answer 1",
      "second",
      "answer 2",
      "third",
    ]);
    const seqs = (await collect(store.readEvents(id, 0))).map((r) => r.event.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    await store.close();
  });

  test("a turn its checks refuse writes nothing (its agent removed from the config)", async () => {
    await using dir = await tempDir();
    const store = await fileStore(dir.path);
    const counts = countOpenings(store);
    const { runtime } = runtimeOver(store, 1);
    const id = (await turn(runtime, "first"))[0]!.session;
    await runtime.kill(id);
    const before = await logOf(store, id);
    runtime.reconfigure(settingsFor({ models: { m: scripted([]).stream }, agents: [{ name: "other" }] }));
    await expect(
      runtime.startTurn({ agent: "", content: "second", session: id, sender: "t", approver: { kind: "none" } }),
    ).rejects.toThrow(/agent crab was removed from the config/);
    expect(counts.offered).toBe(0);
    expect(await logOf(store, id)).toEqual(before);
    await store.close();
  });

  test("an unknown session is not found before anything is resumed", async () => {
    const store = new MemorySessionStore();
    const counts = countOpenings(store);
    const { runtime } = runtimeOver(store, 0);
    await expect(
      runtime.startTurn({ agent: "", content: "hi", session: 41, sender: "t", approver: { kind: "none" } }),
    ).rejects.toThrow(/session 41 not found/);
    expect(counts.offered).toBe(0);
  });

  test("an opening the store refuses ends the turn with 507, and the session reads back from disk", async () => {
    /** Refuses every batch that holds a start event, once armed. */
    class RefusingStore extends MemorySessionStore {
      armed = false;
      override async append(id: number, records: readonly NewRecord[], onSyncing?: () => void): Promise<void> {
        if (this.armed && records.some((r) => r.kind === "event" && r.event.type === "start"))
          throw new Error("ENOSPC: no space left on device (test)");
        return super.append(id, records, onSyncing);
      }
    }
    const store = new RefusingStore();
    const counts = countOpenings(store);
    const { runtime } = runtimeOver(store, 2);
    const id = (await turn(runtime, "first"))[0]!.session;
    await runtime.kill(id);
    store.armed = true;
    const events = await turn(runtime, "second", id);
    expect(counts.taken).toBe(1);
    const end = events.at(-1)!.body.data as { stopReason: string; errorCode: number; error: string };
    expect(end.stopReason).toBe("error");
    expect(end.errorCode).toBe(507);
    expect(end.error).toMatch(/no space left on device/);
    // The refused question is not in the store; the turn's end there is the failed one (as for any refused
    // question: turn-end.test.ts), and the session is read back from disk next time.
    const loaded = (await store.load(id))!;
    expect(loaded.messages.map((m) => m.content)).not.toContain("second");
    const ends = (await collect(store.readEvents(id, 0))).filter((r) => r.event.type === "end");
    expect((ends.at(-1)!.event.data as { stopReason: string }).stopReason).toBe("error");
    expect(runtime.isLive(id).live).toBe(false);
  });
});
