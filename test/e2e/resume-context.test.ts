/**
 * What the model is sent when a long session is resumed from disk through
 * the compiled daemon equals what the whole fold of its log gives
 * (store.load(), the path resume used before its checkpoint): sessions
 * with compactions, trace events, tool calls, a turn cut off by a crash
 * and a torn last line, resumed without a checkpoint and again from the
 * one the first resume wrote.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildChatBody } from "../../src/provider/openai-chat.ts";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { type GenOptions, writeLongSession } from "../helpers/session-gen.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { messagesOf, streamTurn, turnConfig, type WireChatMessage } from "../helpers/turn-kit.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const shapes: GenOptions[] = [
  { messages: 3000, compactEvery: 400, toolEvery: 3, deltas: 3 },
  { messages: 500, toolEvery: 2 },
  { messages: 900, compactEvery: 200, toolEvery: 4, openLastTurn: true },
  { messages: 700, compactEvery: 150, toolEvery: 1, deltas: 1 },
];
const TORN = '{"ts":1,"kind":"message","message":{"role":"assistant","content":"cut off';

/** The provider messages the whole fold gives for session `id`, read from a copy of `dir` (the copy takes the torn-line repair). */
async function expectedContext(dir: string, id: number): Promise<WireChatMessage[]> {
  const copy = mkdtempSync(join(tmpdir(), "crabtalk-resume-ref-"));
  dirs.push(copy);
  cpSync(dir, copy, { recursive: true });
  const store = await JsonlSessionStore.open(copy, { fsync: "none" });
  const loaded = (await store.load(id))!;
  await store.close();
  return (buildChatBody({ model: "fake-model", messages: loaded.messages }, "http://x").messages ??
    []) as WireChatMessage[];
}

describe("resumed context", () => {
  test("equals the whole fold's, without and then with the resume checkpoint", async () => {
    await using fake = await FakeProvider.start();
    fake.route(() => sseReply(openaiSse({ text: "ok" })));
    const home = tempHome("crabtalk-resume-ctx-");
    dirs.push(home);
    const sessions = join(home, "sessions");
    const store = await JsonlSessionStore.open(sessions, { fsync: "none" });
    const ids: number[] = [];
    for (const shape of shapes) ids.push(await writeLongSession(store, shape));
    await store.close();
    appendFileSync(join(sessions, `${ids[0]}.jsonl`), TORN);
    const expected = new Map<number, WireChatMessage[]>();
    for (const id of ids) expected.set(id, await expectedContext(sessions, id));
    expect(expected.get(ids[0]!)!.length).toBeLessThan(500);

    await using d = await startDaemon({ home, config: turnConfig(fake.url) });
    const c = await d.client();
    for (const round of ["no checkpoint", "from the checkpoint"]) {
      for (const id of ids) {
        if (round !== "no checkpoint") await c.request({ kill: { session: id } });
        const from = fake.requests.length;
        await streamTurn(c, { agent: "", content: `next (${round})`, session: id });
        const sent = messagesOf(fake.requests[from]!).filter((m) => m.role !== "system");
        expect(sent.at(-1)).toEqual({ role: "user", content: `next (${round})` });
        if (round === "no checkpoint") expect(sent.slice(0, -1)).toEqual(expected.get(id)!);
        // The second time the history also holds the first round's turn (and, for the open turn, its interruption).
        else expect(sent.slice(0, expected.get(id)!.length)).toEqual(expected.get(id)!);
      }
      if (round === "no checkpoint")
        expect(readdirSync(sessions).filter((n) => n.endsWith(".ckpt")).length).toBe(
          shapes.filter((s) => s.compactEvery).length,
        );
    }
    c.close();
  }, 60_000);
});
