/**
 * LiveSession's group commit: records appended while an earlier write is in
 * flight reach the store as one batch after it, in call order, and every
 * caller's promise resolves only once its own records are written. Each
 * caller's onSyncing runs with the write of the batch holding its records.
 */
import { describe, expect, test } from "bun:test";
import { LiveSession } from "../../src/session/live-session.ts";
import { MemorySessionStore } from "../../src/store/memory.ts";
import type { NewRecord } from "../../src/store/types.ts";

/** A memory store whose appends wait for `release()`, recording each batch's size. */
class GatedStore extends MemorySessionStore {
  batches: number[] = [];
  private gates: (() => void)[] = [];
  override async append(id: number, records: readonly NewRecord[], onSyncing?: () => void): Promise<void> {
    this.batches.push(records.length);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    return super.append(id, records, onSyncing);
  }
  /** Lets the oldest waiting write through. */
  release(): void {
    this.gates.shift()?.();
  }
  get waiting(): number {
    return this.gates.length;
  }
}

const message = (content: string): NewRecord => ({ kind: "message", message: { role: "user", content } });

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe("group commit", () => {
  test("appends made while a write is in flight go out as one batch after it, in order", async () => {
    const store = new GatedStore();
    const created = await store.create({ agent: "crab", createdBy: "t" });
    const session = new LiveSession(created.id, "crab", "t", [], 0, store);
    const written: string[] = [];
    const first = session.append([message("a")]).then(() => written.push("a"));
    await until(() => store.waiting === 1);
    const second = session.append([message("b")]).then(() => written.push("b"));
    const third = session.append([message("c"), message("d")]).then(() => written.push("cd"));
    expect(store.batches).toEqual([1]); // b, c and d wait for a's write
    store.release();
    await first;
    expect(written).toEqual(["a"]);
    await until(() => store.waiting === 1);
    expect(store.batches).toEqual([1, 3]); // one batch for the three records behind it
    expect(written).toEqual(["a"]); // not resolved before their own write
    store.release();
    await Promise.all([second, third]);
    expect(written).toEqual(["a", "b", "cd"]);
    const loaded = await store.load(created.id);
    expect(loaded!.allMessages.map((m) => m.content)).toEqual(["a", "b", "c", "d"]);
  });

  test("each caller's onSyncing runs once, with its own batch's write, before its promise resolves", async () => {
    const store = new GatedStore();
    const created = await store.create({ agent: "crab", createdBy: "t" });
    const session = new LiveSession(created.id, "crab", "t", [], 0, store);
    const seen: string[] = [];
    const first = session.append([message("a")], () => seen.push("syncing a")).then(() => seen.push("written a"));
    await until(() => store.waiting === 1);
    const second = session
      .append([message("b")], () => {
        seen.push("syncing b");
        throw new Error("a failing callback is not the append's failure");
      })
      .then(() => seen.push("written b"));
    const third = session.append([message("c")], () => seen.push("syncing c")).then(() => seen.push("written c"));
    expect(seen).toEqual([]);
    store.release();
    await first;
    expect(seen).toEqual(["syncing a", "written a"]);
    await until(() => store.waiting === 1);
    store.release();
    await Promise.all([second, third]);
    // b's callback threw; c's still ran, and both appends succeeded.
    expect(seen).toEqual(["syncing a", "written a", "syncing b", "syncing c", "written b", "written c"]);
    expect(session.takeWriteFailure()).toBeNull();
  });
});
