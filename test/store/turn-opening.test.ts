/**
 * SessionStore.resume with a TurnOpening (a turn's start and question,
 * written while the resume reads): taken only when the store knows the
 * session's last seq and that no turn is left open, its records then land
 * right after what was resumed, numbered from there, and every later append
 * follows them; otherwise nothing of it is written and the caller appends
 * its own. A log that proves not to be what the store knew has the opening
 * cut off again. Both backends, then the file store's own cases.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { prepareBatch, summaryFromMeta, metaRecord } from "../../src/store/fold.ts";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import type { NewRecord, SessionStore, TurnOpening } from "../../src/store/types.ts";
import { assistant, backends, collect, ev, msg, tempDir, user } from "./helpers.ts";

/** An opening that records the last seq it was given and makes a start event and a question after it. */
function opening(question: string): TurnOpening & { given: number[] } {
  const given: number[] = [];
  return {
    given,
    records(lastSeq: number): NewRecord[] {
      given.push(lastSeq);
      return [ev(lastSeq + 1, "start"), msg(user(question))];
    },
  };
}

/** One whole turn: start, question, answer, end, numbered from `seq`. */
async function turn(store: SessionStore, id: number, seq: number, question: string): Promise<void> {
  await store.append(id, [ev(seq, "start"), msg(user(question))]);
  await store.append(id, [msg(assistant(`answer to ${question}`)), ev(seq + 1, "end")]);
}

/** The event seqs and message texts of the log, in file order. */
async function logOf(store: SessionStore, id: number): Promise<string[]> {
  const out: string[] = [];
  for (const r of await collect(store.records(id))) {
    if (r.kind === "event") out.push(`${r.event.type}#${r.event.seq}`);
    else if (r.kind === "message") out.push(`${r.message.role}:${r.message.content}`);
  }
  return out;
}

for (const backend of backends) {
  describe(`turn opening (${backend.name})`, () => {
    test("a session this store knows takes it: the opening follows what was resumed, and later appends follow it", async () => {
      await using fx = await backend.make("none");
      const { store } = fx;
      const { id } = await store.create({ agent: "crab", createdBy: "t" });
      await turn(store, id, 1, "first");
      const open = opening("second");
      const resumed = (await store.resume(id, open))!;
      expect(open.given).toEqual([2]);
      expect(resumed.opened).toBeDefined();
      // What was resumed is the session before the opening: the caller pushes its own question.
      expect(resumed.lastSeq).toBe(2);
      expect(resumed.messages.map((m) => m.content)).toEqual(["first", "answer to first"]);
      await resumed.opened!.written;
      await store.append(id, [msg(assistant("answer to second")), ev(4, "end")]);
      expect(await logOf(store, id)).toEqual([
        "start#1",
        "user:first",
        "assistant:answer to first",
        "end#2",
        "start#3",
        "user:second",
        "assistant:answer to second",
        "end#4",
      ]);
      expect((await store.summary(id))!.lastSeq).toBe(4);
    });

    test("a log that ends inside a turn does not take it until the interruption is marked", async () => {
      await using fx = await backend.make("none");
      const { store } = fx;
      const { id } = await store.create({ agent: "crab", createdBy: "t" });
      await store.append(id, [ev(1, "start"), msg(user("cut off"))]);
      const open = opening("next");
      const resumed = (await store.resume(id, open))!;
      expect(resumed.interruptedTurn?.turnSeq).toBe(1);
      expect(resumed.opened).toBeUndefined();
      expect(open.given).toEqual([]);
      expect(await logOf(store, id)).toEqual(["start#1", "user:cut off"]);
      await store.append(id, [{ kind: "interrupted", turnSeq: 1, reason: "test" }]);
      const after = opening("next");
      expect((await store.resume(id, after))!.opened).toBeDefined();
      expect(after.given).toEqual([1]);
    });

    test("an opening the store refuses rejects its written, writes nothing and leaves the session as it was", async () => {
      await using fx = await backend.make("none");
      const { store } = fx;
      const { id } = await store.create({ agent: "crab", createdBy: "t" });
      await turn(store, id, 1, "first");
      // An event numbered at or below the last seq is refused before anything is written.
      const bad: TurnOpening = { records: (lastSeq) => [ev(lastSeq, "start"), msg(user("again"))] };
      const resumed = (await store.resume(id, bad))!;
      expect(resumed.opened).toBeDefined();
      await expect(resumed.opened!.written).rejects.toThrow(/seq 2 must be an integer above 2/);
      await store.append(id, [ev(3, "start"), msg(user("retried"))]);
      expect((await logOf(store, id)).slice(4)).toEqual(["start#3", "user:retried"]);
    });
  });
}

describe("turn opening (jsonl only)", () => {
  test("a store that has not folded the session yet (its summary read from the file's tail) leaves it to the caller", async () => {
    await using dir = await tempDir();
    const first = await JsonlSessionStore.open(dir.path, { fsync: "none" });
    const { id } = await first.create({ agent: "crab", createdBy: "t" });
    await turn(first, id, 1, "first");
    await first.close();
    const store = await JsonlSessionStore.open(dir.path, { fsync: "none" });
    try {
      const open = opening("second");
      expect((await store.resume(id, open))!.opened).toBeUndefined();
      expect(open.given).toEqual([]);
      // The fold told it: the next resume takes one.
      const again = opening("second");
      expect((await store.resume(id, again))!.opened).toBeDefined();
      expect(again.given).toEqual([2]);
    } finally {
      await store.close();
    }
  });

  /**
   * A file store holding one session of one whole turn (seqs 1 and 2), whose log is then rewritten in place,
   * every `[from, to]` of it (same lengths: the file's size is unchanged), behind the store's back.
   */
  async function changedLog(dir: string, edits: [string, string][]) {
    const store = await JsonlSessionStore.open(dir, { fsync: "messages" });
    const { id } = await store.create({ agent: "crab", createdBy: "t" });
    await turn(store, id, 1, "first");
    const path = join(dir, `${id}.jsonl`);
    const text = readFileSync(path, "utf8");
    const fd = openSync(path, "r+");
    try {
      for (const [from, to] of edits) {
        let at = text.indexOf(from);
        expect(at).toBeGreaterThanOrEqual(0);
        for (; at >= 0; at = text.indexOf(from, at + 1)) writeSync(fd, to, at);
      }
    } finally {
      closeSync(fd);
    }
    return { store, id, path, size: statSync(path).size };
  }

  const changes: [string, [string, string][], number, boolean][] = [
    [
      "its last seq raised to 9",
      [
        ['"seq":2', '"seq":9'],
        ['"lastSeq":2', '"lastSeq":9'],
      ],
      9,
      false,
    ],
    ["its last turn's end no longer an end (the turn open)", [['"type":"end"', '"type":"enx"']], 2, true],
  ];
  for (const [what, edits, lastSeq, interrupted] of changes) {
    test(`a log changed behind the store's back (${what}) has the opening cut off again, and resumes as it is`, async () => {
      await using dir = await tempDir();
      const { store, id, path, size } = await changedLog(dir.path, edits);
      try {
        const open = opening("second");
        const resumed = (await store.resume(id, open))!;
        expect(open.given).toEqual([2]);
        expect(resumed.opened).toBeUndefined();
        expect(resumed.lastSeq).toBe(lastSeq);
        expect(resumed.interruptedTurn !== undefined).toBe(interrupted);
        expect(statSync(path).size).toBe(size);
        expect(await logOf(store, id)).not.toContain("user:second");
        // The store now knows what the log holds: an open turn takes no opening, a raised seq numbers the next.
        const next = opening("second");
        expect((await store.resume(id, next))!.opened !== undefined).toBe(!interrupted);
        expect(next.given).toEqual(interrupted ? [] : [9]);
      } finally {
        await store.close();
      }
    });
  }

  test("a log that no longer starts with its meta line has the opening cut off, and is not found", async () => {
    await using dir = await tempDir();
    const { store, id, path, size } = await changedLog(dir.path, [['"kind":"meta"', '"kind":"mexa"']]);
    try {
      const open = opening("second");
      expect(await store.resume(id, open)).toBeUndefined();
      expect(open.given).toEqual([2]);
      expect(statSync(path).size).toBe(size);
    } finally {
      await store.close();
    }
  });
});

describe("prepareBatch's turnOpen", () => {
  const summary = summaryFromMeta(metaRecord({ agent: "crab", createdBy: "t" }, 1, 1));
  const after = (records: NewRecord[]) => prepareBatch(summary, records, 2, false).turnOpen;
  test("a start opens a turn; an end or an interruption closes it; the last of them in the batch decides", () => {
    expect(after([ev(1, "start"), msg(user("q"))])).toBe(true);
    expect(after([msg(assistant("a")), ev(1, "end")])).toBe(false);
    expect(after([{ kind: "interrupted", turnSeq: 1, reason: "r" }])).toBe(false);
    expect(after([ev(1, "end"), ev(2, "start")])).toBe(true);
    expect(after([ev(1, "start"), ev(2, "end")])).toBe(false);
  });
  test("a batch with none of them leaves it undefined", () => {
    expect(after([msg(user("q")), ev(1, "chunk")])).toBeUndefined();
  });
});
