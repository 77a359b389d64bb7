/**
 * The request prefix a view checkpoint keeps (checkpoint.ts): with an
 * encoder (the daemon passes its providers'), a view checkpoint also names
 * a prefix file beside it, the JSON the session's provider sends for the
 * history a resume from it starts with, by length and sum, and
 * store.resume() hands it back when the resumed history still begins with
 * the view's messages, object for object. The encoder here is the real
 * Chat Completions encoder. Without an encoder there is no prefix file and
 * the checkpoint is the layout every earlier daemon reads; a damaged or
 * stale prefix file is ignored (the view is still used, the result
 * unchanged); a compaction after the view, or a history the resume would
 * change (a tool call without its result), gets no prefix; deleting the
 * session removes the prefix file too.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAnthropicProvider } from "../../src/provider/anthropic.ts";
import { createOpenAIChatProvider } from "../../src/provider/openai-chat.ts";
import type { Message } from "../../src/provider/types.ts";
import { checkpointPath } from "../../src/store/checkpoint.ts";
import { prefixPath } from "../../src/store/request-prefix.ts";
import { JsonlSessionStore, type JsonlStoreOptions } from "../../src/store/jsonl.ts";
import type { LoadedSession, ResumedSession } from "../../src/store/types.ts";
import { type GenOptions, writeLongSession } from "../helpers/session-gen.ts";
import { httpOptions } from "../provider/setup.ts";
import { tempDir } from "./helpers.ts";

const chat = createOpenAIChatProvider({ name: "openai", baseUrl: "http://localhost:1/v1", http: httpOptions() });
/** Every call the encoder got, by agent. */
const asked: { agent: string; count: number }[] = [];
const encodePrefix: JsonlStoreOptions["requestPrefix"] = (agent, history) => {
  asked.push({ agent, count: history.length });
  return chat.exportPrefix!(history);
};
const withPrefix: JsonlStoreOptions = { fsync: "none", requestPrefix: encodePrefix };
const plain: JsonlStoreOptions = { fsync: "none" };
/** About 850 KB of log: the first resume earns a view checkpoint. */
const LONG: GenOptions = { messages: 1500, toolEvery: 3, deltas: 2 };

async function withStore<T>(
  dir: string,
  opts: JsonlStoreOptions,
  fn: (s: JsonlSessionStore) => Promise<T>,
): Promise<T> {
  const store = await JsonlSessionStore.open(dir, opts);
  try {
    return await fn(store);
  } finally {
    await store.close(); // also writes the view checkpoint the resume earned
  }
}
const resumed = (dir: string, id: number, opts = withPrefix) =>
  withStore(dir, opts, async (s) => (await s.resume(id))!);
const reference = (dir: string, id: number) => withStore(dir, plain, async (s) => (await s.load(id))!);
const appendTurns = (dir: string, id: number, n: number, records: (i: number) => Message[] = turn) =>
  withStore(dir, plain, async (s) => {
    for (let i = 0; i < n; i++)
      await s.append(
        id,
        records(i).map((message) => ({ kind: "message", message })),
      );
  });
const turn = (i: number): Message[] => [
  { role: "user", content: `more ${i}` },
  { role: "assistant", content: `and more ${i} ${"x".repeat(200)}` },
];

function view(s: LoadedSession | ResumedSession): unknown {
  return { meta: s.meta, messages: s.messages, lastSeq: s.lastSeq, compaction: s.compaction };
}

interface Header {
  kind: string;
  offset: number;
  state: { compaction?: { replaces: number } };
  prefix?: { format: string; count: number; bytes: number; sum: string };
}
function header(path: string): Header {
  const file = readFileSync(checkpointPath(path));
  return JSON.parse(file.subarray(0, file.indexOf(0x0a)).toString("utf8")) as Header;
}

/** A long never-compacted session whose first resume (with the encoder) wrote a view with a prefix. */
async function longSession(dir: string, gen = LONG): Promise<{ id: number; path: string }> {
  const id = await withStore(dir, plain, (s) => writeLongSession(s, gen));
  const path = join(dir, `${id}.jsonl`);
  await resumed(dir, id);
  return { id, path };
}

/** The JSON the encoder gives for the first `count` messages of a resumed history. */
const freshJson = (r: ResumedSession, count: number): string =>
  Buffer.from(chat.exportPrefix!(structuredClone(r.messages.slice(0, count)))!.json).toString("utf8");

describe("request prefix in the view checkpoint", () => {
  test("kept for the view's whole history and handed back by the next resume, equal to a fresh encoding", async () => {
    await using tmp = await tempDir();
    asked.length = 0;
    const { id, path } = await longSession(tmp.path);
    const h = header(path);
    expect(h.kind).toBe("view");
    expect(asked).toEqual([{ agent: "crab", count: h.prefix!.count }]);
    const r = await resumed(tmp.path, id);
    expect(view(r)).toEqual(view(await reference(tmp.path, id)));
    expect((await r.requestPrefix)?.count).toBe(r.messages.length);
    expect((await r.requestPrefix)?.format).toBe(h.prefix!.format);
    expect(Buffer.from((await r.requestPrefix)!.json).toString("utf8")).toBe(freshJson(r, r.messages.length));
  });

  test("messages appended after the view: the prefix covers the view's part of the history", async () => {
    await using tmp = await tempDir();
    const { id, path } = await longSession(tmp.path);
    const count = header(path).prefix!.count;
    await appendTurns(tmp.path, id, 3);
    const r = await resumed(tmp.path, id);
    expect(header(path).offset).toBeLessThan(statSync(path).size); // the same view: the tail is short
    expect(r.messages.length).toBe(count + 6);
    expect((await r.requestPrefix)?.count).toBe(count);
    expect(Buffer.from((await r.requestPrefix)!.json).toString("utf8")).toBe(freshJson(r, count));
  });

  test("the messages the prefix stands for are left unbuilt: `deferred` names them, `messages` builds the same history", async () => {
    await using tmp = await tempDir();
    const { id, path } = await longSession(tmp.path);
    await appendTurns(tmp.path, id, 2);
    const r = await resumed(tmp.path, id);
    const d = r.deferred!;
    expect(d.head.count).toBe(header(path).prefix!.count);
    expect(d.rest).toHaveLength(4);
    const head = d.head.build();
    expect(head).toBe(d.head.build());
    // The built history is the head's objects, then the rest's: nothing built twice.
    expect(r.messages.slice(0, d.head.count).every((m, i) => m === head[i])).toBe(true);
    expect(r.messages.slice(d.head.count).every((m, i) => m === d.rest[i])).toBe(true);
    expect(view(r)).toEqual(view(await reference(tmp.path, id)));
  });

  test("a prefix cut before the view's last turn (Anthropic's): the kept messages after the cut are built now", async () => {
    await using tmp = await tempDir();
    const anthropic = createAnthropicProvider({ name: "a", baseUrl: "http://localhost:1", http: httpOptions() });
    const opts: JsonlStoreOptions = { fsync: "none", requestPrefix: (_, history) => anthropic.exportPrefix!(history) };
    const id = await withStore(tmp.path, plain, (s) => writeLongSession(s, LONG));
    const path = join(tmp.path, `${id}.jsonl`);
    await resumed(tmp.path, id, opts);
    const r = await resumed(tmp.path, id, opts);
    const count = header(path).prefix!.count;
    expect(r.deferred!.head.count).toBe(count);
    expect(count).toBeLessThan(r.messages.length);
    expect(r.deferred!.rest).toEqual(r.messages.slice(count));
    expect(view(r)).toEqual(view(await reference(tmp.path, id)));
  });

  test("a prefix ending where a call waits for its result: the history is built whole, the prefix still handed back", async () => {
    await using tmp = await tempDir();
    // An encoder (of some other layout) that cuts right after the last assistant message that calls tools.
    const cut: JsonlStoreOptions = {
      fsync: "none",
      requestPrefix: (_, history) => {
        const at = history.findLastIndex((m) => m.role === "assistant" && (m.toolCalls?.length ?? 0) > 0);
        return chat.exportPrefix!(history.slice(0, at + 1));
      },
    };
    const id = await withStore(tmp.path, plain, (s) => writeLongSession(s, LONG));
    await resumed(tmp.path, id, cut);
    const r = await resumed(tmp.path, id, cut);
    expect(r.deferred).toBeUndefined();
    expect(r.messages[(await r.requestPrefix)!.count]).toMatchObject({ role: "tool" });
    expect(view(r)).toEqual(view(await reference(tmp.path, id)));
  });

  test("a new compaction after the view, even one keeping the view's messages: no prefix (its summary differs)", async () => {
    await using tmp = await tempDir();
    // A view that keeps a compaction and the long stretch after it.
    const id = await withStore(tmp.path, plain, (s) =>
      writeLongSession(s, { messages: 300, compactEvery: 100, toolEvery: 2 }),
    );
    const path = join(tmp.path, `${id}.jsonl`);
    await appendTurns(tmp.path, id, 2000);
    await resumed(tmp.path, id);
    const h = header(path);
    expect(h.prefix).toBeDefined();
    const replaces = h.state.compaction!.replaces;
    expect((await (await resumed(tmp.path, id)).requestPrefix)?.count).toBe(h.prefix!.count);
    // Another compaction from the same message on: the kept messages are the same objects, the summary is not.
    await withStore(tmp.path, plain, (s) =>
      s.append(id, [{ kind: "compaction", summary: "said again", tokensBefore: 9, tokensAfter: 1, replaces }]),
    );
    const r = await resumed(tmp.path, id);
    expect(r.messages[0]!.content).toContain("said again");
    expect(await r.requestPrefix).toBeUndefined();
    expect(r.deferred).toBeUndefined();
    expect(view(r)).toEqual(view(await reference(tmp.path, id)));
  });

  test("a damaged or stale prefix file is ignored: the view is still used and the result is the same", async () => {
    await using tmp = await tempDir();
    const { id, path } = await longSession(tmp.path);
    const good = readFileSync(prefixPath(path));
    expect(good.length).toBe(header(path).prefix!.bytes);
    const damaged = Buffer.from(good);
    const at = damaged.indexOf(Buffer.from('"content":"')) + 11;
    damaged[at] = damaged[at] === 0x41 ? 0x42 : 0x41;
    for (const bytes of [damaged, good.subarray(0, good.length - 1)]) {
      writeFileSync(prefixPath(path), bytes);
      const before = header(path).offset;
      const r = await resumed(tmp.path, id);
      expect(await r.requestPrefix).toBeUndefined();
      expect(view(r)).toEqual(view(await reference(tmp.path, id)));
      expect(header(path).offset).toBe(before); // the view itself was used, not rebuilt
    }
    writeFileSync(prefixPath(path), good);
    expect((await (await resumed(tmp.path, id)).requestPrefix)?.count).toBe(header(path).prefix!.count);
  });

  test("without an encoder the view has no prefix and keeps the layout earlier daemons read (text to the end)", async () => {
    await using tmp = await tempDir();
    const id = await withStore(tmp.path, plain, (s) => writeLongSession(s, LONG));
    const path = join(tmp.path, `${id}.jsonl`);
    const r = await resumed(tmp.path, id, plain);
    expect(await r.requestPrefix).toBeUndefined();
    const h = header(path);
    expect(h.kind).toBe("view");
    expect(h.prefix).toBeUndefined();
    expect(existsSync(prefixPath(path))).toBe(false);
    expect((await resumed(tmp.path, id, plain)).requestPrefix).toBeUndefined(); // not even a promise: nothing read
  });

  test("a history the resume would change (a tool call whose result is missing) gets no prefix", async () => {
    await using tmp = await tempDir();
    const id = await withStore(tmp.path, plain, (s) => writeLongSession(s, LONG));
    await appendTurns(tmp.path, id, 1, () => [
      { role: "user", content: "read it" },
      {
        role: "assistant",
        content: "",
        toolCalls: [{ id: "lost", name: "read", rawArguments: "{}", arguments: {} }],
      },
    ]);
    const path = join(tmp.path, `${id}.jsonl`);
    asked.length = 0;
    const r = await resumed(tmp.path, id);
    expect(r.messages.at(-1)).toMatchObject({ role: "tool", toolCallId: "lost", isError: true });
    expect(header(path).kind).toBe("view");
    expect(header(path).prefix).toBeUndefined();
    expect(asked).toEqual([]);
  });

  test("a resume by a store without an encoder neither reads nor hands back a prefix; a delete removes its file", async () => {
    await using tmp = await tempDir();
    const { id, path } = await longSession(tmp.path);
    expect(existsSync(prefixPath(path))).toBe(true);
    expect((await resumed(tmp.path, id, plain)).requestPrefix).toBeUndefined(); // not even a promise: nothing read
    await withStore(tmp.path, plain, (s) => s.delete(id));
    expect(existsSync(prefixPath(path))).toBe(false);
    expect(existsSync(checkpointPath(path))).toBe(false);
  });
});
