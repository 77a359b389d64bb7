/**
 * The behavioural suite every SessionStore backend must pass, run against
 * the in-memory twin and the JSONL file store alike.
 */
import { describe, expect, test } from "bun:test";
import { INTERRUPTED_RESULT, SUMMARY_PREFIX } from "../../src/store/fold.ts";
import { SessionNotFoundError, StoreClosedError } from "../../src/store/types.ts";
import { assistant, backends, collect, ev, msg, toolResult, user } from "./helpers.ts";

const usage = (promptTokens: number, completionTokens: number) => ({
  promptTokens,
  completionTokens,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
});

const call = (id: string) => ({ id, name: "bash", rawArguments: '{"cmd":"ls"}', arguments: { cmd: "ls" } });

for (const backend of backends) {
  describe(`SessionStore contract: ${backend.name}`, () => {
    test("create assigns increasing ids and returns the summary", async () => {
      await using f = await backend.make();
      const a = await f.store.create({ agent: "crab", createdBy: "cli" });
      const b = await f.store.create({ agent: "crab", createdBy: "tg", title: "named" });
      expect(b.id).toBeGreaterThan(a.id);
      expect(a).toMatchObject({
        agent: "crab",
        createdBy: "cli",
        title: "",
        messageCount: 0,
        totalTokens: 0,
        lastSeq: 0,
      });
      expect(b.title).toBe("named");
      expect(await f.store.exists(a.id)).toBe(true);
      expect(await f.store.exists(999)).toBe(false);
    });

    test("append's onSyncing runs once, after the records are taken and before the append resolves", async () => {
      await using f = await backend.make();
      const { id } = await f.store.create({ agent: "crab", createdBy: "cli" });
      const order: string[] = [];
      await f.store.append(id, [msg(user("q"))], () => order.push("syncing")).then(() => order.push("resolved"));
      expect(order).toEqual(["syncing", "resolved"]);
      // A batch refused before anything is written: no call.
      let called = false;
      await expect(
        f.store.append(id, [{ kind: "event", event: { seq: 0, type: "start" } } as never], () => {
          called = true;
        }),
      ).rejects.toThrow(RangeError);
      expect(called).toBe(false);
      // A callback that throws does not fail the append.
      await f.store.append(id, [msg(assistant("a"))], () => {
        throw new Error("not the store's failure");
      });
      expect((await f.store.load(id))!.allMessages.map((m) => m.content)).toEqual(["q", "a"]);
    });

    test("append then load round-trips messages, totals and a derived title", async () => {
      await using f = await backend.make();
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      await f.store.append(s.id, [ev(1, "start"), msg(user("What is   the\nweather in Lisbon today?"))]);
      await f.store.append(s.id, [msg(assistant("Sunny.", { usage: usage(100, 20), model: "m" })), ev(2, "end")]);
      const loaded = await f.store.load(s.id);
      expect(loaded).toBeDefined();
      expect(loaded!.messages.map((m) => m.content)).toEqual(["What is   the\nweather in Lisbon today?", "Sunny."]);
      expect(loaded!.allMessages).toHaveLength(2);
      expect(loaded!.lastSeq).toBe(2);
      expect(loaded!.interruptedTurn).toBeUndefined();
      expect(loaded!.tornLine).toBeUndefined();
      expect(loaded!.corruptLines).toBe(0);
      expect(loaded!.meta).toMatchObject({
        messageCount: 2,
        totalTokens: 120,
        lastSeq: 2,
        title: "What is the weather in Lisbon today?",
      });
      expect(await f.store.summary(s.id)).toEqual(loaded!.meta);
    });

    test("a title set by the client wins over the derived one", async () => {
      await using f = await backend.make();
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      await f.store.append(s.id, [msg(user("first words"))]);
      await f.store.append(s.id, [{ kind: "meta_update", title: "Trip planning" }]);
      await f.store.append(s.id, [msg(user("more"))]);
      expect((await f.store.summary(s.id))!.title).toBe("Trip planning");
      expect((await f.store.load(s.id))!.meta.title).toBe("Trip planning");
    });

    test("event seq must increase; a rejected batch writes nothing", async () => {
      await using f = await backend.make();
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      await f.store.append(s.id, [ev(1, "start"), ev(2, "text")]);
      await expect(f.store.append(s.id, [msg(user("x")), ev(2, "again")])).rejects.toBeInstanceOf(RangeError);
      await expect(f.store.append(s.id, [ev(4, "a"), ev(3, "b")])).rejects.toBeInstanceOf(RangeError);
      const loaded = await f.store.load(s.id);
      expect(loaded!.allMessages).toHaveLength(0);
      expect(loaded!.lastSeq).toBe(2);
      await f.store.append(s.id, [ev(3, "ok")]);
      expect((await f.store.summary(s.id))!.lastSeq).toBe(3);
    });

    test("unknown sessions: append rejects 404, load and summary are undefined", async () => {
      await using f = await backend.make();
      await expect(f.store.append(42, [msg(user("x"))])).rejects.toBeInstanceOf(SessionNotFoundError);
      expect(await f.store.load(42)).toBeUndefined();
      expect(await f.store.summary(42)).toBeUndefined();
      await expect(collect(f.store.readEvents(42, 0))).rejects.toBeInstanceOf(SessionNotFoundError);
      expect(await f.store.delete(42)).toBe(false);
    });

    test("delete removes the session and its id is never handed out again", async () => {
      await using f = await backend.make();
      const a = await f.store.create({ agent: "crab", createdBy: "cli" });
      const b = await f.store.create({ agent: "crab", createdBy: "cli" });
      expect(await f.store.delete(b.id)).toBe(true);
      expect(await f.store.delete(b.id)).toBe(false);
      expect(await f.store.exists(b.id)).toBe(false);
      expect(await f.store.load(b.id)).toBeUndefined();
      await expect(f.store.append(b.id, [msg(user("x"))])).rejects.toBeInstanceOf(SessionNotFoundError);
      const c = await f.store.create({ agent: "crab", createdBy: "cli" });
      expect(c.id).toBeGreaterThan(b.id);
      const page = await f.store.list({ offset: 0, limit: 10 });
      expect(page.sessions.map((s) => s.id).sort()).toEqual([a.id, c.id].sort());
    });

    test("compaction changes what the model sees; allMessages keeps everything", async () => {
      await using f = await backend.make();
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      await f.store.append(s.id, [msg(user("one")), msg(assistant("two")), msg(user("three")), msg(assistant("four"))]);
      await f.store.append(s.id, [
        { kind: "compaction", summary: "talked about numbers", tokensBefore: 900, tokensAfter: 90 },
      ]);
      await f.store.append(s.id, [msg(user("five"))]);
      let loaded = (await f.store.load(s.id))!;
      expect(loaded.messages.map((m) => m.content)).toEqual([`${SUMMARY_PREFIX}talked about numbers`, "five"]);
      expect(loaded.allMessages.map((m) => m.content)).toEqual(["one", "two", "three", "four", "five"]);
      expect(loaded.compaction).toMatchObject({ replaces: 4, tokensBefore: 900, tokensAfter: 90 });
      // A later compaction that keeps the last two messages verbatim supersedes the first.
      await f.store.append(s.id, [
        msg(assistant("six")),
        { kind: "compaction", summary: "S2", tokensBefore: 50, tokensAfter: 10, replaces: 4 },
      ]);
      loaded = (await f.store.load(s.id))!;
      expect(loaded.messages.map((m) => m.content)).toEqual([`${SUMMARY_PREFIX}S2`, "five", "six"]);
      expect(loaded.allMessages).toHaveLength(6);
    });

    test("a compaction boundary that cuts a tool call from its result drops the orphan result", async () => {
      await using f = await backend.make();
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      await f.store.append(s.id, [
        msg(user("run")),
        msg(assistant("", { toolCalls: [call("c1")] })),
        msg(toolResult("c1", "out")),
        msg(assistant("done")),
      ]);
      await f.store.append(s.id, [
        { kind: "compaction", summary: "ran ls", tokensBefore: 10, tokensAfter: 5, replaces: 2 },
      ]);
      const loaded = (await f.store.load(s.id))!;
      expect(loaded.messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    });

    test("a turn cut off mid-way is reported and its missing tool results synthesized", async () => {
      await using f = await backend.make();
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      await f.store.append(s.id, [ev(1, "start"), msg(user("list files twice"))]);
      await f.store.append(s.id, [
        msg(assistant("", { toolCalls: [call("c1"), call("c2")] })),
        ev(2, "tool_start", { calls: ["c1", "c2"] }),
      ]);
      await f.store.append(s.id, [
        msg(toolResult("c1", "a.txt")),
        ev(3, "tool_result", { callId: "c1", durationMs: 5, isError: false }),
      ]);
      let loaded = (await f.store.load(s.id))!;
      expect(loaded.interruptedTurn).toMatchObject({ turnSeq: 1 });
      expect(loaded.messages.map((m) => (m.role === "tool" ? `${m.toolCallId}:${m.isError}` : m.role))).toEqual([
        "user",
        "assistant",
        "c1:false",
        "c2:true",
      ]);
      const synthetic = loaded.messages[3]!;
      expect(synthetic.content).toBe(INTERRUPTED_RESULT);
      expect(loaded.allMessages).toHaveLength(3);

      await f.store.append(s.id, [{ kind: "interrupted", turnSeq: 1, reason: "daemon restarted" }]);
      await f.store.append(s.id, [ev(4, "start"), msg(user("again")), msg(assistant("ok")), ev(5, "end")]);
      loaded = (await f.store.load(s.id))!;
      expect(loaded.interruptedTurn).toBeUndefined();
      expect(loaded.messages.map((m) => (m.role === "tool" ? m.toolCallId : m.content))).toEqual([
        "list files twice",
        "",
        "c1",
        "c2",
        "again",
        "ok",
      ]);
    });

    test("list pages newest activity first and filters by agent", async () => {
      await using f = await backend.make();
      const ids: number[] = [];
      const t0 = Date.now() + 60_000;
      for (let i = 0; i < 7; i++) {
        const s = await f.store.create({ agent: i % 2 ? "odd" : "even", createdBy: "cli" });
        ids.push(s.id);
        await f.store.append(s.id, [
          { ...msg(user(`hello ${i}`)), ts: t0 + i },
          { kind: "meta_update", title: `t${i}` },
        ]);
      }
      // Activity on the oldest session moves it to the front.
      await f.store.append(ids[0]!, [{ ...msg(user("bump")), ts: t0 + 100 }]);
      const first = await f.store.list({ offset: 0, limit: 3 });
      expect(first.total).toBe(7);
      expect(first.sessions.map((s) => s.id)).toEqual([ids[0]!, ids[6]!, ids[5]!]);
      const rest = await f.store.list({ offset: 3, limit: 10 });
      expect(rest.sessions.map((s) => s.id)).toEqual([ids[4]!, ids[3]!, ids[2]!, ids[1]!]);
      const odd = await f.store.list({ agent: "odd", offset: 0, limit: 10 });
      expect(odd.total).toBe(3);
      expect(odd.sessions.every((s) => s.agent === "odd")).toBe(true);
      expect(first.sessions[0]).toMatchObject({ messageCount: 2, title: "t0" });
    });

    test("readEvents streams events after a seq; records returns every line", async () => {
      await using f = await backend.make();
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      await f.store.append(s.id, [ev(1, "start"), msg(user("hi")), ev(2, "text_delta", { text: "h" }), ev(3, "end")]);
      const after1 = await collect(f.store.readEvents(s.id, 1));
      expect(after1.map((r) => [r.event.seq, r.event.type])).toEqual([
        [2, "text_delta"],
        [3, "end"],
      ]);
      expect(after1[0]!.event.text).toBe("h");
      const kinds = (await collect(f.store.records(s.id))).map((r) => r.kind);
      expect(kinds).toEqual(["meta", "event", "message", "event", "event", "meta_update"]);
    });

    test("readEvents takes its cut at the call: pending appends in, later ones out", async () => {
      await using f = await backend.make();
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      const pending = f.store.append(s.id, [ev(1, "start"), msg(user("hi"))]);
      const replay = f.store.readEvents(s.id, 0);
      const later = f.store.append(s.id, [ev(2, "end")]);
      expect((await collect(replay)).map((r) => r.event.seq)).toEqual([1]);
      await Promise.all([pending, later]);
      expect((await collect(f.store.readEvents(s.id, 0))).map((r) => r.event.seq)).toEqual([1, 2]);
    });

    test("concurrent appends to one session land whole and in call order", async () => {
      await using f = await backend.make("none");
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      const big = "x".repeat(20_000);
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => f.store.append(s.id, [ev(i + 1, "chunk", { text: i % 10 ? "y" : big })])),
      );
      const events = await collect(f.store.readEvents(s.id, 0));
      expect(events.map((e) => e.event.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    });

    test("flush writes a totals snapshot; close rejects further calls", async () => {
      await using f = await backend.make();
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      await f.store.append(s.id, [msg(user("hi"))]);
      await f.store.flush();
      const last = (await collect(f.store.records(s.id))).at(-1)!;
      expect(last).toMatchObject({ kind: "meta_update", messageCount: 1, title: "hi" });
      await f.store.close();
      await expect(f.store.create({ agent: "a", createdBy: "b" })).rejects.toBeInstanceOf(StoreClosedError);
      await expect(f.store.append(s.id, [msg(user("x"))])).rejects.toBeInstanceOf(StoreClosedError);
      await f.store.close();
    });

    test("the store copies: mutating a loaded or appended message changes nothing stored", async () => {
      await using f = await backend.make();
      const s = await f.store.create({ agent: "crab", createdBy: "cli" });
      const m = user("original");
      await f.store.append(s.id, [msg(m)]);
      m.content = "mutated";
      const loaded = (await f.store.load(s.id))!;
      loaded.allMessages[0]!.content = "changed";
      expect((await f.store.load(s.id))!.allMessages[0]!.content).toBe("original");
    });
  });
}
