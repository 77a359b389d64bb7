/**
 * Durable sessions against the compiled daemon: a conversation survives a
 * restart (the next provider request carries the earlier turn's messages
 * byte for byte), a session resumes by id whether or not it is in memory,
 * an unknown id is 404 on every session request, and ids are never handed
 * out twice, across restarts, deletes and kill -9.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { type CrabtalkClient, DaemonError } from "../../src/client/client.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { contentText, endOf, messagesOf, sessionOf, streamTurn, textOf, turnConfig } from "../helpers/turn-kit.ts";

const homes: string[] = [];
function home(): string {
  const h = tempHome("crabtalk-sessions-");
  homes.push(h);
  return h;
}
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/** Text that any re-encoding (normalization, escaping, trimming) would change. */
const USER_1 = '  first turn: héllo 🦀 "quoted" \\ back\tslash\n\n  trailing spaces   \u2028 and a line separator ';
const REPLY_1 = 'Noted: ünïcode, "quotes", a tab\tand\nnewlines \u0000kept? 🦀 ';

async function withConn<T>(d: DaemonHandle, fn: (c: CrabtalkClient) => Promise<T>): Promise<T> {
  const c = await d.client();
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

async function sendOne(d: DaemonHandle, content: string, session?: number): Promise<number> {
  return withConn(d, async (c) =>
    Number((await c.request({ send: { agent: session ? "" : "crab", content, session } })).response!.session),
  );
}

describe("resume across a restart", () => {
  test("the second turn's provider request carries the first turn's messages byte-equal", async () => {
    await using fake = await FakeProvider.start();
    fake.enqueue(sseReply(openaiSse({ text: REPLY_1, textDeltas: 7 })), sseReply(openaiSse({ text: "second answer" })));
    const h = home();
    const first = await startDaemon({ home: h, config: turnConfig(fake.url) });
    const turn1 = await withConn(first, (c) => streamTurn(c, { content: USER_1 }));
    const id = sessionOf(turn1);
    expect(textOf(turn1)).toBe(REPLY_1);
    expect(await first.stop("SIGTERM")).toBe(0);

    await using second = await startDaemon({ home: h });
    const listed = await withConn(second, (c) => c.request({ sessions: {} }));
    const row = listed.sessions!.sessions.find((s) => Number(s.id) === id)!;
    expect(row.live).toBe(false);
    expect(row.messageCount).toBe(2);
    const turn2 = await withConn(second, (c) => streamTurn(c, { content: "and now?", session: id }));
    expect(sessionOf(turn2)).toBe(id);
    expect(endOf(turn2).stopReason).toBe("stop");
    // Sequence numbers continue from the file, never restart at 1.
    expect(Number(turn2[0]!.seq)).toBeGreaterThan(Number(turn1.at(-1)!.seq));

    expect(fake.requests).toHaveLength(2);
    const m1 = messagesOf(fake.requests[0]!);
    const m2 = messagesOf(fake.requests[1]!);
    expect(m2).toHaveLength(m1.length + 2);
    expect(JSON.stringify(m2.slice(0, m1.length))).toBe(JSON.stringify(m1));
    expect(contentText(m1.at(-1)!)).toBe(USER_1);
    expect(m2[m1.length]!.role).toBe("assistant");
    expect(contentText(m2[m1.length]!)).toBe(REPLY_1);
    expect(m2.at(-1)).toEqual({ role: "user", content: "and now?" });
  });

  test("resume by id works in memory, after kill (evicted) and after a restart; the listing shows live state", async () => {
    await using fake = await FakeProvider.start();
    fake.route((req) => sseReply(openaiSse({ text: `reply #${req.index + 1}` })));
    const h = home();
    let d = await startDaemon({ home: h, config: turnConfig(fake.url) });
    const id = await sendOne(d, "one");
    const liveRow = async () =>
      (await withConn(d, (c) => c.request({ sessions: {} }))).sessions!.sessions.find((s) => Number(s.id) === id)!;
    expect((await liveRow()).live).toBe(true);

    expect(await sendOne(d, "two", id)).toBe(id); // in memory
    const killed = await withConn(d, (c) => c.request({ kill: { session: id } }));
    expect(killed.ack!.message).toContain(`session ${id}`);
    expect((await liveRow()).live).toBe(false);
    expect(await sendOne(d, "three", id)).toBe(id); // loaded back from disk after kill
    expect((await liveRow()).live).toBe(true);

    await d.stop();
    d = await startDaemon({ home: h });
    try {
      expect(await sendOne(d, "four", id)).toBe(id); // a fresh process
      const users = messagesOf(fake.requests.at(-1)!)
        .filter((m) => m.role === "user")
        .map(contentText);
      expect(users).toEqual(["one", "two", "three", "four"]);
      const assistants = messagesOf(fake.requests.at(-1)!)
        .filter((m) => m.role === "assistant")
        .map(contentText);
      expect(assistants).toEqual(["reply #1", "reply #2", "reply #3"]);
      const history = await withConn(d, (c) => c.request({ getHistory: { session: id } }));
      expect(history.history!.messages.map((m) => m.content)).toEqual([
        "one",
        "reply #1",
        "two",
        "reply #2",
        "three",
        "reply #3",
        "four",
        "reply #4",
      ]);
    } finally {
      await d.cleanup();
    }
  });

  test("an unknown session id is 404 on stream, send, history, kill, delete, compact and attach", async () => {
    await using fake = await FakeProvider.start();
    fake.route(() => sseReply(openaiSse({ text: "ok" })));
    await using d = await startDaemon({ home: home(), config: turnConfig(fake.url) });
    const real = await sendOne(d, "exists");
    const unknown = real + 1000;
    await withConn(d, async (c) => {
      const requests = [
        { stream: { agent: "", content: "hi", session: unknown } },
        { send: { agent: "", content: "hi", session: unknown } },
        { getHistory: { session: unknown } },
        { kill: { session: unknown } },
        { deleteSession: { session: unknown } },
        { compact: { session: unknown } },
        { attach: { session: unknown, afterSeq: 0 } },
      ];
      for (const r of requests) {
        const err = await (async () => {
          try {
            for await (const _ of c.stream(r)) void _;
            return undefined;
          } catch (e) {
            return e;
          }
        })();
        expect(err).toBeInstanceOf(DaemonError);
        expect((err as DaemonError).code).toBe(404);
        expect((err as DaemonError).message).toContain(String(unknown));
      }
    });
    // No request to an unknown session reached the model or created a file.
    expect(fake.requests).toHaveLength(1);
    const list = await withConn(d, (c) => c.request({ sessions: {} }));
    expect(Number(list.sessions!.total)).toBe(1);
  });
});

describe("read your writes", () => {
  test("a listing right after a turn's answer counts that turn's messages and tokens", async () => {
    await using fake = await FakeProvider.start();
    fake.route(() => sseReply(openaiSse({ text: "ok", usage: { prompt: 30, completion: 4 } })));
    await using d = await startDaemon({ home: home(), config: turnConfig(fake.url) });
    await withConn(d, async (c) => {
      let id: number | undefined;
      for (let i = 1; i <= 15; i++) {
        id = Number(
          (await c.request({ send: { agent: id ? "" : "crab", content: `message ${i}`, session: id } })).response!
            .session,
        );
        const row = (await c.request({ sessions: {} })).sessions!.sessions.find((s) => Number(s.id) === id)!;
        expect([Number(row.messageCount), Number(row.totalTokens)]).toEqual([2 * i, 34 * i]);
        const history = (await c.request({ getHistory: { session: id } })).history!.messages;
        expect(history.at(-1)!.content).toBe("ok");
      }
    });
  });
});

describe("ids", () => {
  test("unique and never reused across restarts, deletes and kill -9", async () => {
    await using fake = await FakeProvider.start();
    fake.route(() => sseReply(openaiSse({ text: "ok" })));
    const h = home();
    const seen: number[] = [];
    let d = await startDaemon({ home: h, config: turnConfig(fake.url) });
    try {
      for (let i = 0; i < 3; i++) seen.push(await sendOne(d, `a${i}`));
      // Delete the newest: its id must not come back.
      await withConn(d, (c) => c.request({ deleteSession: { session: seen.at(-1)! } }));
      seen.push(await sendOne(d, "after delete"));
      await d.stop();

      d = await startDaemon({ home: h });
      seen.push(await sendOne(d, "after restart"));
      // Delete everything, then crash: neither the files nor a clean shutdown are there to remember the ids.
      for (const id of seen)
        await withConn(d, (c) => c.request({ deleteSession: { session: id } })).catch(() => undefined);
      const empty = await withConn(d, (c) => c.request({ sessions: {} }));
      expect(Number(empty.sessions!.total)).toBe(0);
      await d.kill9();

      d = await startDaemon({ home: h });
      seen.push(await sendOne(d, "after kill -9"));
      seen.push(await sendOne(d, "and one more"));
    } finally {
      await d.cleanup();
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
  });
});
