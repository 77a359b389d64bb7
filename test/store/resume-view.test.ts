/**
 * The view checkpoint (checkpoint.ts, kind "view"): a long session that
 * was never compacted, or has a long stretch since its last compaction,
 * resumes from one JSON sidecar holding the fold's state and the messages
 * the model sees, plus the lines after it. store.resume() must still equal
 * store.load(); a checkpoint that is torn, stale, tampered with or belongs
 * to another file is ignored and rebuilt; the sidecar is what a resume
 * reads, which an early log line changed behind the store's back shows.
 */
import { describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  checkpointPath,
  VIEW_MIN_TAIL_BYTES,
  VIEW_REFRESH_MIN_BYTES,
  viewRefreshBytes,
} from "../../src/store/checkpoint.ts";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import type { Message } from "../../src/provider/types.ts";
import type { LoadedSession, ResumedSession } from "../../src/store/types.ts";
import { decodeMessages } from "../../src/store/view-codec.ts";
import { type GenOptions, writeLongSession } from "../helpers/session-gen.ts";
import { sealedLine, tempDir } from "./helpers.ts";

const opts = { fsync: "none" } as const;
/** About 850 KB of log: past VIEW_MIN_TAIL_BYTES, so the first resume earns a view checkpoint. */
const LONG: GenOptions = { messages: 1500, toolEvery: 3, deltas: 2 };

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

async function withStore<T>(dir: string, fn: (s: JsonlSessionStore) => Promise<T>): Promise<T> {
  const store = await JsonlSessionStore.open(dir, opts);
  try {
    return await fn(store);
  } finally {
    await store.close(); // also waits for the view checkpoint's write
  }
}

const reference = (dir: string, id: number) => withStore(dir, async (s) => (await s.load(id))!);
const resumed = (dir: string, id: number) => withStore(dir, async (s) => (await s.resume(id))!);
const generate = (dir: string, gen: GenOptions) => withStore(dir, (s) => writeLongSession(s, gen));

interface ViewHeader {
  v: number;
  kind: string;
  offset: number;
  bytes: number;
  kept: number;
  columns: number;
  strings: string[];
  other: Message[];
  sum: string;
  state: { messages: number; compaction?: unknown };
}
interface ViewFile {
  header: ViewHeader;
  columns: number[];
  text: string;
  /** The kept messages, decoded (undefined when they do not decode). */
  kept: Message[] | undefined;
}

/** A view checkpoint's three parts: the header line, the columns (float64s) and the text (see checkpoint.ts). */
function readCp(path: string): ViewFile {
  const file = readFileSync(checkpointPath(path));
  const nl = file.indexOf(0x0a);
  const header = JSON.parse(file.subarray(0, nl).toString("utf8")) as ViewHeader;
  if (header.kind !== "view") return { header, columns: [], text: "", kept: undefined };
  const textStart = nl + 1 + header.columns * 8;
  const columns = Array.from(
    new Float64Array(file.buffer.slice(file.byteOffset + nl + 1, file.byteOffset + textStart)),
  );
  const text = file.subarray(textStart).toString("utf8");
  const kept = decodeMessages({ columns, strings: header.strings, other: header.other, text }, header.kept);
  return { header, columns, text, kept };
}

/** Writes a view checkpoint back from its parts, with its sum made to agree (a tampering the sum cannot see). */
function writeCp(path: string, cp: ViewFile): void {
  const body = Buffer.concat([new Uint8Array(Float64Array.from(cp.columns).buffer), Buffer.from(cp.text)]);
  const line = sealedLine({ ...cp.header, columns: cp.columns.length }, body);
  writeFileSync(checkpointPath(path), Buffer.concat([Buffer.from(`${line}\n`), body]));
}

async function longSession(dir: string, gen = LONG): Promise<{ id: number; path: string; expected: unknown }> {
  const id = await generate(dir, gen);
  const path = join(dir, `${id}.jsonl`);
  expect(readFileSync(path).length).toBeGreaterThan(VIEW_MIN_TAIL_BYTES);
  const expected = view(await reference(dir, id));
  expect(view(await resumed(dir, id))).toEqual(expected);
  expect(readCp(path).header.kind).toBe("view");
  return { id, path, expected };
}

describe("view checkpoint", () => {
  test("a long session never compacted: written by the first resume, equal to the whole fold from it", async () => {
    await using tmp = await tempDir();
    const { id, path, expected } = await longSession(tmp.path);
    const cp = readCp(path);
    expect(cp.kept?.length).toBe(cp.header.state.messages);
    expect(cp.header.state.compaction).toBeUndefined();
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
  });

  test("a long stretch since the last compaction: it keeps the compaction and the messages from its replaces on", async () => {
    await using tmp = await tempDir();
    const id = await generate(tmp.path, { messages: 300, compactEvery: 100, toolEvery: 2 });
    const path = join(tmp.path, `${id}.jsonl`);
    const chat = (from: number, n: number) =>
      withStore(tmp.path, async (s) => {
        for (let i = from; i < from + n; i++)
          await s.append(id, [
            { kind: "message", message: { role: "user", content: `more ${i}` } },
            { kind: "message", message: { role: "assistant", content: `and more ${i} ${"x".repeat(200)}` } },
          ]);
      });
    await chat(0, Math.ceil(VIEW_MIN_TAIL_BYTES / 300));
    const expected = view(await reference(tmp.path, id));
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
    const cp = readCp(path);
    expect(cp.header.kind).toBe("view");
    expect(cp.header.state.compaction).toBeDefined();
    expect(cp.header.state.messages - cp.kept!.length).toBe(
      (cp.header.state.compaction as { replaces: number }).replaces,
    );
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
    // A compaction keeping messages from before the view's first: the whole fold, then a view from its replaces on.
    await withStore(tmp.path, (s) =>
      s.append(id, [{ kind: "compaction", summary: "keeps more", tokensBefore: 9, tokensAfter: 1, replaces: 50 }]),
    );
    const again = view(await reference(tmp.path, id));
    expect(view(await resumed(tmp.path, id))).toEqual(again);
    expect(readCp(path).header.state.messages - readCp(path).kept!.length).toBe(50);
    expect(view(await resumed(tmp.path, id))).toEqual(again);
  });

  test("text past ASCII (accents, emoji) is read back equal; a lone surrogate keeps its message whole", async () => {
    await using tmp = await tempDir();
    const text = (i: number, role: "user" | "assistant") =>
      `${role} ${i}: café, crab 🦀${i % 7 === 0 ? ", cut \ud83e" : ""}, ${"the quick brown crab walks sideways. ".repeat(4)}`;
    const { id, path, expected } = await longSession(tmp.path, { ...LONG, text });
    const cp = readCp(path);
    // The header stays one-byte text (quick to parse); the messages' text is UTF-8, except where it cannot be.
    const file = readFileSync(checkpointPath(path));
    expect(file.subarray(0, file.indexOf(0x0a)).every((b) => b < 0x80)).toBe(true);
    expect(cp.text).toContain("café, crab 🦀,");
    expect(cp.header.other.some((m) => m.content.includes("cut \ud83e"))).toBe(true);
    expect(cp.text).not.toContain(", cut ");
    expect((await resumed(tmp.path, id)).messages[0]!.content).toContain("café, crab 🦀, cut \ud83e");
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
  });

  test("the resume reads the sidecar: an early line changed behind the store's back shows only once it is removed", async () => {
    await using tmp = await tempDir();
    const { id, path, expected } = await longSession(tmp.path);
    const log = readFileSync(path, "utf8");
    const spoilt = log.replace("question 0:", "QUESTION 0:");
    expect(spoilt).not.toBe(log);
    writeFileSync(path, spoilt);
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
    rmSync(checkpointPath(path));
    const full = (await resumed(tmp.path, id)).messages[0]!.content;
    expect(full.startsWith("QUESTION 0:")).toBe(true);
  });

  test("a meta line longer than the first read (a 5,000-character title) is checked too, and the sidecar used", async () => {
    await using tmp = await tempDir();
    const id = await withStore(tmp.path, async (s) => {
      const { id } = await s.create({ agent: "crab", createdBy: "t", title: "t".repeat(5000) });
      for (let i = 0; i < Math.ceil(VIEW_MIN_TAIL_BYTES / 300); i++)
        await s.append(id, [
          { kind: "message", message: { role: "user", content: `q ${i}` } },
          { kind: "message", message: { role: "assistant", content: `a ${i} ${"x".repeat(200)}` } },
        ]);
      return id;
    });
    const path = join(tmp.path, `${id}.jsonl`);
    const expected = view(await reference(tmp.path, id));
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
    expect(readCp(path).header.kind).toBe("view");
    writeFileSync(path, readFileSync(path, "utf8").replace('"content":"q 0"', '"content":"Q 0"'));
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
  });

  test("turns appended after it are folded from the log; a long enough tail moves it", async () => {
    await using tmp = await tempDir();
    const { id, path } = await longSession(tmp.path);
    const first = readCp(path).header.offset;
    const more = (n: number) =>
      withStore(tmp.path, async (s) => {
        for (let i = 0; i < n; i++)
          await s.append(id, [
            { kind: "message", message: { role: "user", content: `more ${i}` } },
            { kind: "message", message: { role: "assistant", content: `and more ${i} ${"x".repeat(200)}` } },
          ]);
      });
    await more(3);
    expect(view(await resumed(tmp.path, id))).toEqual(view(await reference(tmp.path, id)));
    expect(readCp(path).header.offset).toBe(first);
    await more(Math.ceil(VIEW_MIN_TAIL_BYTES / 300));
    expect(view(await resumed(tmp.path, id))).toEqual(view(await reference(tmp.path, id)));
    expect(readCp(path).header.offset).toBeGreaterThan(first);
    expect(view(await resumed(tmp.path, id))).toEqual(view(await reference(tmp.path, id)));
  });

  test("an eighth of its size in lines after it (far below VIEW_MIN_TAIL_BYTES) moves it; less does not", async () => {
    await using tmp = await tempDir();
    // Big enough that an eighth of its view is past the 64 KiB floor.
    const { id, path } = await longSession(tmp.path, { ...LONG, messages: 6000 });
    const refresh = viewRefreshBytes(statSync(checkpointPath(path)).size);
    expect(refresh).toBeLessThan(VIEW_MIN_TAIL_BYTES / 2);
    expect(refresh).toBeGreaterThan(VIEW_REFRESH_MIN_BYTES);
    const first = readCp(path).header;
    const tail = () => statSync(path).size - (first.offset + first.bytes + 1);
    /** Appends turns until the log holds `bytes` after the view's line. */
    const growTo = (bytes: number) =>
      withStore(tmp.path, async (s) => {
        for (let i = 0; tail() < bytes; i++)
          await s.append(id, [
            { kind: "message", message: { role: "user", content: `more ${i}` } },
            { kind: "message", message: { role: "assistant", content: `and more ${i} ${"x".repeat(200)}` } },
          ]);
      });
    await growTo(refresh - 1024);
    expect(view(await resumed(tmp.path, id))).toEqual(view(await reference(tmp.path, id)));
    expect(readCp(path).header.offset).toBe(first.offset);
    await growTo(refresh);
    expect(view(await resumed(tmp.path, id))).toEqual(view(await reference(tmp.path, id)));
    const moved = readCp(path);
    expect(moved.header.offset).toBeGreaterThan(first.offset);
    expect(moved.header.offset + moved.header.bytes + 1).toBe(statSync(path).size);
    expect(view(await resumed(tmp.path, id))).toEqual(view(await reference(tmp.path, id)));
  });

  test("a view a resume earns is written after the turn it was for has ended, not ahead of that turn's appends", async () => {
    await using tmp = await tempDir();
    const id = await generate(tmp.path, LONG);
    const path = join(tmp.path, `${id}.jsonl`);
    // A quiet time longer than the test: only the turn's end (or close) may write it.
    const store = await JsonlSessionStore.open(tmp.path, { ...opts, viewSaveQuietMs: 60_000 });
    try {
      const resumedNow = await store.resume(id);
      expect(view(resumedNow!)).toEqual(view((await store.load(id))!));
      await store.append(id, [{ kind: "message", message: { role: "user", content: "the turn's question" } }]);
      await Bun.sleep(20);
      expect(existsSync(checkpointPath(path))).toBe(false);
      const seq = resumedNow!.lastSeq + 1;
      await store.append(id, [
        { kind: "message", message: { role: "assistant", content: "the answer" } },
        { kind: "event", event: { seq, type: "end", turn: seq, data: {} } },
      ]);
      const deadline = Date.now() + 5_000;
      while (!existsSync(checkpointPath(path)) && Date.now() < deadline) await Bun.sleep(5);
      expect(readCp(path).header.kind).toBe("view");
      expect(view((await store.resume(id))!)).toEqual(view((await store.load(id))!));
    } finally {
      await store.close();
    }
  });

  test("a view whose turn never ends is written once the session is quiet, or by close", async () => {
    await using tmp = await tempDir();
    const a = await generate(tmp.path, LONG);
    const b = await generate(tmp.path, LONG);
    const store = await JsonlSessionStore.open(tmp.path, { ...opts, viewSaveQuietMs: 100 });
    await store.resume(a);
    await store.resume(b);
    const started = Date.now();
    // Appends to b keep it from going quiet; a has none.
    const deadline = started + 5_000;
    while (!existsSync(checkpointPath(join(tmp.path, `${a}.jsonl`))) && Date.now() < deadline) {
      await store.append(b, [{ kind: "message", message: { role: "user", content: "still typing" } }]);
      await Bun.sleep(20);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(existsSync(checkpointPath(join(tmp.path, `${a}.jsonl`)))).toBe(true);
    expect(existsSync(checkpointPath(join(tmp.path, `${b}.jsonl`)))).toBe(false);
    await store.close();
    expect(readCp(join(tmp.path, `${b}.jsonl`)).header.kind).toBe("view");
    expect(view(await resumed(tmp.path, b))).toEqual(view(await reference(tmp.path, b)));
  });

  test("viewRefreshBytes: an eighth of the view, between 64 KiB and VIEW_MIN_TAIL_BYTES", () => {
    expect(viewRefreshBytes(0)).toBe(VIEW_REFRESH_MIN_BYTES);
    expect(viewRefreshBytes(1_000_000)).toBe(125_000);
    expect(viewRefreshBytes(100_000_000)).toBe(VIEW_MIN_TAIL_BYTES);
  });

  test("a torn last line after it is reported once and the context is unchanged", async () => {
    await using tmp = await tempDir();
    const { id, path, expected } = await longSession(tmp.path);
    appendFileSync(path, '{"ts":1,"kind":"message","message":{"role":"user","cont');
    const got = await resumed(tmp.path, id);
    expect(got.tornLine).toBeDefined();
    const seen: unknown = { ...(view(got) as object), tornLine: undefined };
    expect(seen).toEqual(expected);
    expect(view(await resumed(tmp.path, id))).toEqual(expected);
  });

  test("any one byte of it changed (60 seeded places, header and body): the resume still equals the whole fold", async () => {
    await using tmp = await tempDir();
    const { id, path, expected } = await longSession(tmp.path);
    const original = readFileSync(checkpointPath(path));
    const headerEnd = original.indexOf(0x0a);
    // A small LCG, seeded: a failure names its place and is reproduced by the same run.
    let seed = 20_261_201;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 60; i++) {
      // Half in the header line (the fold's state, the tables, the sum), half in the columns and text.
      const at = i % 2 === 0 ? next(headerEnd + 1) : headerEnd + 1 + next(original.length - headerEnd - 1);
      const spoilt = Buffer.from(original);
      spoilt[at] = spoilt[at]! ^ (1 + next(255));
      writeFileSync(checkpointPath(path), spoilt);
      const got = view(await resumed(tmp.path, id));
      if (!Bun.deepEquals(got, expected)) throw new Error(`byte ${at} of ${original.length} changed: resume differs`);
    }
  });

  const bad: [string, (ckpt: string, path: string) => void][] = [
    ["a torn sidecar (cut mid-write)", (ckpt) => truncateSync(ckpt, Math.floor(readFileSync(ckpt).length / 2))],
    [
      "a kept list one message short (counts made to agree)",
      (ckpt) => {
        const path = ckpt.slice(0, -".ckpt".length);
        const cp = readCp(path);
        cp.header.kept--;
        cp.header.state.messages--;
        writeCp(path, cp);
      },
    ],
    [
      "a message of a kind the columns do not have",
      (ckpt) => {
        const path = ckpt.slice(0, -".ckpt".length);
        const cp = readCp(path);
        cp.columns[0] = 7 * 16;
        writeCp(path, cp);
      },
    ],
    [
      "a message's length past the end of the text",
      (ckpt) => {
        const path = ckpt.slice(0, -".ckpt".length);
        const cp = readCp(path);
        cp.columns[1] = cp.text.length + 1;
        writeCp(path, cp);
      },
    ],
    [
      "a field of the fold's state changed (lastSeq), the sum not made to agree",
      (ckpt) => {
        const file = readFileSync(ckpt);
        const nl = file.indexOf(0x0a);
        const line = file.subarray(0, nl).toString("utf8");
        // The last digit moved by one: the line keeps its length.
        const changed = line.replace(
          /"lastSeq":(\d+)/,
          (_m, n: string) => `"lastSeq":${n.slice(0, -1)}${(Number(n.at(-1)) + 1) % 10}`,
        );
        expect(changed).not.toBe(line);
        expect(changed.length).toBe(line.length);
        writeFileSync(ckpt, Buffer.concat([Buffer.from(changed), file.subarray(nl)]));
      },
    ],
    [
      "a model name in the strings table changed, the sum not made to agree",
      (ckpt) => {
        const file = readFileSync(ckpt);
        const at = file.indexOf("fake-model");
        expect(at).toBeGreaterThan(0);
        expect(at).toBeLessThan(file.indexOf(0x0a));
        file[at] = "F".charCodeAt(0);
        writeFileSync(ckpt, file);
      },
    ],
    [
      "a text changed behind the store's back (same length: only the sum sees it)",
      (ckpt) => {
        const file = readFileSync(ckpt);
        const at = file.lastIndexOf("question");
        expect(at).toBeGreaterThan(0);
        file[at] = "Q".charCodeAt(0);
        writeFileSync(ckpt, file);
      },
    ],
    [
      "an offset that is not its line",
      (ckpt) => {
        const path = ckpt.slice(0, -".ckpt".length);
        const cp = readCp(path);
        cp.header.offset -= 40;
        writeCp(path, cp);
      },
    ],
    [
      "a log cut short before its line (stale: restored from an older copy)",
      (_ckpt, path) => {
        const log = readFileSync(path);
        truncateSync(path, log.indexOf(0x0a, Math.floor(log.length / 2)) + 1);
      },
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
    test(`${name}: not used, and rebuilt`, async () => {
      await using tmp = await tempDir();
      const { id, path } = await longSession(tmp.path);
      spoil(checkpointPath(path), path);
      const expected = view(await reference(tmp.path, id));
      expect(view(await resumed(tmp.path, id))).toEqual(expected);
      if (existsSync(checkpointPath(path))) {
        const cp = readCp(path);
        expect(cp.header.v).toBe(3);
        expect(cp.kept?.length).toBe(cp.header.state.messages);
      }
      expect(view(await resumed(tmp.path, id))).toEqual(expected);
    });
  }
});
