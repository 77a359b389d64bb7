/**
 * store.resume() against store.load(), the whole fold it must equal: the
 * messages the model sees, the meta, lastSeq, an interrupted turn and a torn
 * last line, for sessions with compactions, trace events, tool calls, an
 * open last turn and a line cut off mid-append; first without a checkpoint
 * (the whole log is read and one written), then from it, and with every
 * kind of bad checkpoint (rebuilt, never trusted, never an error).
 */
import { describe, expect, test } from "bun:test";
import { appendFileSync, cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkpointPath } from "../../src/store/checkpoint.ts";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import { MemorySessionStore } from "../../src/store/memory.ts";
import type { LoadedSession, ResumedSession } from "../../src/store/types.ts";
import { type GenOptions, writeLongSession } from "../helpers/session-gen.ts";
import { sealedLine, tempDir } from "./helpers.ts";

const opts = { fsync: "none" } as const;

/** What resume must reproduce of a load: everything but the whole list (and corruptLines, counted over what was read). */
function view(s: LoadedSession | ResumedSession): unknown {
  return {
    meta: s.meta,
    messages: s.messages,
    lastSeq: s.lastSeq,
    compaction: s.compaction,
    interruptedTurn: s.interruptedTurn,
    tornLine: s.tornLine,
  };
}

async function reference(dir: string, id: number): Promise<LoadedSession> {
  const store = await JsonlSessionStore.open(dir, opts);
  try {
    return (await store.load(id))!;
  } finally {
    await store.close();
  }
}

async function resumed(dir: string, id: number): Promise<ResumedSession> {
  const store = await JsonlSessionStore.open(dir, opts);
  try {
    return (await store.resume(id))!;
  } finally {
    await store.close();
  }
}

async function generate(dir: string, gen: GenOptions): Promise<number> {
  const store = await JsonlSessionStore.open(dir, opts);
  try {
    return await writeLongSession(store, gen);
  } finally {
    await store.close();
  }
}

const shapes: [string, GenOptions][] = [
  ["compactions, tool calls and deltas", { messages: 600, compactEvery: 100, toolEvery: 3, deltas: 4 }],
  ["no compaction", { messages: 200, toolEvery: 2 }],
  ["a compaction, then a turn cut off by a crash", { messages: 300, compactEvery: 120, openLastTurn: true }],
  ["a compaction every few turns, each with a tool call", { messages: 400, compactEvery: 37, toolEvery: 1 }],
];

describe("resume equals the whole fold", () => {
  for (const [name, gen] of shapes) {
    test(`${name}: without a checkpoint, then from the one it wrote`, async () => {
      await using tmp = await tempDir();
      const id = await generate(tmp.path, gen);
      const expected = view(await reference(tmp.path, id));
      const path = join(tmp.path, `${id}.jsonl`);
      expect(existsSync(checkpointPath(path))).toBe(false);
      expect(view(await resumed(tmp.path, id))).toEqual(expected);
      expect(existsSync(checkpointPath(path))).toBe(gen.compactEvery !== undefined);
      expect(view(await resumed(tmp.path, id))).toEqual(expected);
    });
  }

  test("a torn last line (crash mid-append) is reported once and the context is unchanged", async () => {
    await using a = await tempDir();
    await using b = await tempDir();
    const id = await generate(a.path, { messages: 300, compactEvery: 50, toolEvery: 4, deltas: 2 });
    await resumed(a.path, id); // leaves a checkpoint
    appendFileSync(join(a.path, `${id}.jsonl`), '{"ts":1,"kind":"message","message":{"role":"user","cont');
    cpSync(a.path, b.path, { recursive: true });
    const expected = await reference(a.path, id);
    expect(expected.tornLine).toBeDefined();
    const got = await resumed(b.path, id);
    expect(view(got)).toEqual(view(expected));
  });

  test("turns appended after the checkpoint, with a new compaction, move it", async () => {
    await using tmp = await tempDir();
    const id = await generate(tmp.path, { messages: 200, compactEvery: 60, toolEvery: 2 });
    const path = join(tmp.path, `${id}.jsonl`);
    await resumed(tmp.path, id);
    const before = readFileSync(checkpointPath(path), "utf8");
    const store = await JsonlSessionStore.open(tmp.path, opts);
    await store.append(id, [
      { kind: "message", message: { role: "user", content: "more" } },
      { kind: "message", message: { role: "assistant", content: "and more" } },
      { kind: "compaction", summary: "newer summary", tokensBefore: 9, tokensAfter: 1 },
      { kind: "message", message: { role: "user", content: "after the newer summary" } },
    ]);
    await store.close();
    const expected = view(await reference(tmp.path, id));
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
    expect(readFileSync(checkpointPath(path), "utf8")).not.toBe(before);
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
  });

  test("a compaction that keeps messages from before the checkpoint falls back to the whole fold", async () => {
    await using tmp = await tempDir();
    const id = await generate(tmp.path, { messages: 200, compactEvery: 60 });
    await resumed(tmp.path, id);
    const store = await JsonlSessionStore.open(tmp.path, opts);
    await store.append(id, [
      { kind: "compaction", summary: "keeps the last 150", tokensBefore: 9, tokensAfter: 1, replaces: 50 },
    ]);
    await store.close();
    const expected = await reference(tmp.path, id);
    expect(expected.messages.length).toBe(151);
    expect(view(await resumed(tmp.path, id))).toEqual(view(expected));
  });

  const bad: [string, (ckpt: string, path: string) => void][] = [
    ["not JSON", (ckpt) => writeFileSync(ckpt, "{ half")],
    ["another version", (ckpt) => writeFileSync(ckpt, readFileSync(ckpt, "utf8").replace('"v":3', '"v":99'))],
    [
      "an offset that is not the compaction line (the sum made to agree)",
      (ckpt) => {
        const cp = JSON.parse(readFileSync(ckpt, "utf8")) as { offset: number };
        writeFileSync(ckpt, `${sealedLine({ ...cp, offset: cp.offset - 40 })}\n`);
      },
    ],
    [
      "a line length far past the end of the log (damaged; never allocated; the sum made to agree)",
      (ckpt) => {
        const cp = JSON.parse(readFileSync(ckpt, "utf8")) as { bytes: number };
        writeFileSync(ckpt, `${sealedLine({ ...cp, bytes: 2 ** 40 })}\n`);
      },
    ],
    [
      "the session's title in the fold's state changed, the sum not made to agree",
      (ckpt) => {
        const line = readFileSync(ckpt, "utf8");
        const changed = line.replace('"title":"question 0', '"title":"questiom 0');
        expect(changed).not.toBe(line);
        writeFileSync(ckpt, changed);
      },
    ],
    [
      "no sum (a version-3 file)",
      (ckpt) => writeFileSync(ckpt, readFileSync(ckpt, "utf8").replace(/,"sum":"\w+"/, "")),
    ],
    [
      "the checkpoint of another session file",
      (_ckpt, path) => {
        const lines = readFileSync(path, "utf8").split("\n");
        lines[0] = lines[0]!.replace('"createdBy":"gen"', '"createdBy":"gem"');
        writeFileSync(path, lines.join("\n"));
      },
    ],
  ];
  for (const [name, spoil] of bad) {
    test(`a checkpoint with ${name} is not used, and is rebuilt`, async () => {
      await using tmp = await tempDir();
      const id = await generate(tmp.path, { messages: 300, compactEvery: 70, toolEvery: 3 });
      const path = join(tmp.path, `${id}.jsonl`);
      await resumed(tmp.path, id);
      spoil(checkpointPath(path), path);
      const expected = view(await reference(tmp.path, id));
      expect(view(await resumed(tmp.path, id))).toEqual(expected);
      // Rebuilt: the file is the one a resume without any checkpoint writes.
      const rebuilt = readFileSync(checkpointPath(path));
      rmSync(checkpointPath(path));
      await resumed(tmp.path, id);
      expect(readFileSync(checkpointPath(path))).toEqual(rebuilt);
      expect(view(await resumed(tmp.path, id))).toEqual(expected);
    });
  }

  test("a compaction checkpoint an older daemon wrote (version 2, the same layout) is used as it is", async () => {
    await using tmp = await tempDir();
    const id = await generate(tmp.path, { messages: 300, compactEvery: 70, toolEvery: 3 });
    const path = join(tmp.path, `${id}.jsonl`);
    await resumed(tmp.path, id);
    const ckpt = checkpointPath(path);
    // Version 2 had no sum.
    writeFileSync(
      ckpt,
      readFileSync(ckpt, "utf8")
        .replace('"v":3', '"v":2')
        .replace(/,"sum":"\w+"/, ""),
    );
    const expected = view(await reference(tmp.path, id));
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
    // Rebuilding would have written version 3: it was read and trusted.
    expect(JSON.parse(readFileSync(ckpt, "utf8")).v).toBe(2);
  });

  test("deleting a session removes its checkpoint", async () => {
    await using tmp = await tempDir();
    const id = await generate(tmp.path, { messages: 100, compactEvery: 30 });
    await resumed(tmp.path, id);
    const store = await JsonlSessionStore.open(tmp.path, opts);
    expect(await store.delete(id)).toBe(true);
    await store.close();
    expect(existsSync(checkpointPath(join(tmp.path, `${id}.jsonl`)))).toBe(false);
  });

  test("the in-memory twin's resume is its load without the whole list", async () => {
    const store = new MemorySessionStore();
    const id = await writeLongSession(store, { messages: 120, compactEvery: 40, toolEvery: 2, openLastTurn: true });
    expect(view((await store.resume(id))!)).toEqual(view((await store.load(id))!));
  });
});
