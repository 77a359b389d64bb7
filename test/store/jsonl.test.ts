/**
 * What only the file backend can get wrong: permissions, torn and corrupt
 * lines, restarts (ids, summaries from the tail or a full scan), whole
 * lines under concurrent writers, and a real kill -9 in the middle of
 * appending.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { appendFile, mkdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import { assistant, collect, ev, msg, tempDir, user } from "./helpers.ts";

async function fresh(dir: string): Promise<JsonlSessionStore> {
  return JsonlSessionStore.open(join(dir, "sessions"));
}

describe("JsonlSessionStore on disk", () => {
  test("directory is 0700 and session files 0600, one JSON object per line", async () => {
    await using d = await tempDir();
    const store = await fresh(d.path);
    const s = await store.create({ agent: "crab", createdBy: "cli" });
    await store.append(s.id, [msg(user("hi")), msg(assistant("hello"))]);
    expect((await stat(store.dir)).mode & 0o777).toBe(0o700);
    const file = join(store.dir, `${s.id}.jsonl`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const lines = (await readFile(file, "utf8")).split("\n");
    expect(lines.at(-1)).toBe("");
    const kinds = lines.slice(0, -1).map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds).toEqual(["meta", "message", "message"]);
    await store.close();
  });

  test("a batch with a line over 1 MiB is written as whole lines in order and loads back exactly", async () => {
    await using d = await tempDir();
    const store = await fresh(d.path);
    const s = await store.create({ agent: "crab", createdBy: "cli" });
    const big = `${"é".repeat(600_000)}${"x".repeat(900_000)}\n"quoted"`;
    await store.append(s.id, [msg(user("before")), msg(assistant(big)), ev(1, "chunk", { content: "after" })]);
    await store.append(s.id, [msg(user("next"))]);
    const lines = (await readFile(join(store.dir, `${s.id}.jsonl`), "utf8")).split("\n");
    expect(lines.at(-1)).toBe("");
    const kinds = lines.slice(0, -1).map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds).toEqual(["meta", "message", "message", "event", "message"]);
    const loaded = await store.load(s.id);
    expect(loaded?.messages.map((m) => m.content)).toEqual(["before", big, "next"]);
    await store.close();
  });

  test("a torn last line is ignored, reported once, moved aside, and appends continue cleanly", async () => {
    await using d = await tempDir();
    let store = await fresh(d.path);
    const s = await store.create({ agent: "crab", createdBy: "cli" });
    await store.append(s.id, [msg(user("one")), msg(assistant("two"))]);
    await store.append(s.id, [msg(user("three is the message cut off"))]);
    // kill -9 mid-write (no close, so no snapshot line after it): cut the last line short.
    const file = join(store.dir, `${s.id}.jsonl`);
    const size = (await stat(file)).size;
    await truncate(file, size - 12);

    store = await fresh(d.path);
    expect((await store.summary(s.id))!.messageCount).toBe(2);
    const loaded = (await store.load(s.id))!;
    expect(loaded.allMessages.map((m) => m.content)).toEqual(["one", "two"]);
    expect(loaded.tornLine).toBeDefined();
    expect(loaded.tornLine!.preview).toContain('"kind":"message"');
    expect(loaded.tornLine!.offset + loaded.tornLine!.bytes).toBe(size - 12);
    expect(await readFile(`${file}.torn`, "utf8")).toContain("three");

    const again = (await store.load(s.id))!;
    expect(again.tornLine).toBeUndefined();
    await store.append(s.id, [msg(user("four"))]);
    expect((await store.load(s.id))!.allMessages.map((m) => m.content)).toEqual(["one", "two", "four"]);
    expect((await store.load(s.id))!.corruptLines).toBe(0);
    await store.close();
  });

  test("a torn tail found by an append is repaired first and reported by the next load", async () => {
    await using d = await tempDir();
    let store = await fresh(d.path);
    const s = await store.create({ agent: "crab", createdBy: "cli" });
    await store.append(s.id, [msg(user("one"))]);
    await store.close();
    await appendFile(join(store.dir, `${s.id}.jsonl`), '{"ts":1,"kind":"message","message":{"role":"assi');
    store = await fresh(d.path);
    await store.append(s.id, [msg(user("two"))]);
    const loaded = (await store.load(s.id))!;
    expect(loaded.allMessages.map((m) => m.content)).toEqual(["one", "two"]);
    expect(loaded.tornLine?.bytes).toBeGreaterThan(0);
    expect(loaded.corruptLines).toBe(0);
    await store.close();
  });

  test("a whole last record missing only its newline is kept", async () => {
    await using d = await tempDir();
    let store = await fresh(d.path);
    const s = await store.create({ agent: "crab", createdBy: "cli" });
    await store.close();
    await appendFile(
      join(store.dir, `${s.id}.jsonl`),
      JSON.stringify({ ts: 5, kind: "message", message: user("whole") }),
    );
    store = await fresh(d.path);
    await store.append(s.id, [msg(user("next"))]);
    const loaded = (await store.load(s.id))!;
    expect(loaded.allMessages.map((m) => m.content)).toEqual(["whole", "next"]);
    expect(loaded.tornLine).toBeUndefined();
    await store.close();
  });

  test("corrupt lines in the middle are skipped and counted", async () => {
    await using d = await tempDir();
    let store = await fresh(d.path);
    const s = await store.create({ agent: "crab", createdBy: "cli" });
    await store.append(s.id, [msg(user("one"))]);
    await store.close();
    const file = join(store.dir, `${s.id}.jsonl`);
    await appendFile(file, 'garbage{"\n{"ts":1,"kind":"unknown_kind"}\n');
    store = await fresh(d.path);
    await store.append(s.id, [msg(assistant("two"))]);
    const loaded = (await store.load(s.id))!;
    expect(loaded.allMessages.map((m) => m.content)).toEqual(["one", "two"]);
    expect(loaded.corruptLines).toBe(2);
    expect(loaded.tornLine).toBeUndefined();
    await store.close();
  });

  test("onSyncing runs once the records are in the file (their fsync then under way)", async () => {
    await using tmp = await tempDir();
    const store = await fresh(tmp.path);
    const { id } = await store.create({ agent: "crab", createdBy: "cli" });
    let inFile = "";
    await store.append(id, [msg(user("asked before the model call"))], () => {
      inFile = readFileSync(join(tmp.path, "sessions", `${id}.jsonl`), "utf8");
    });
    expect(inFile).toContain('"content":"asked before the model call"');
    await store.close();
  });

  test("ids are never reused: after delete, after restart, and with next-id lost", async () => {
    await using d = await tempDir();
    let store = await fresh(d.path);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await store.create({ agent: "a", createdBy: "cli" })).id);
    expect(ids).toEqual([1, 2, 3]);
    await store.delete(3);
    await store.delete(2);
    await store.close();

    store = await fresh(d.path);
    expect((await store.create({ agent: "a", createdBy: "cli" })).id).toBe(4);
    await store.delete(4);
    await store.delete(1);
    await store.close();

    store = await fresh(d.path);
    expect((await store.list({ offset: 0, limit: 10 })).total).toBe(0);
    expect((await store.create({ agent: "a", createdBy: "cli" })).id).toBe(5);
    await store.close();

    // next-id lost (disk trouble): the highest file id still bounds the counter.
    await rm(join(store.dir, "next-id"));
    store = await fresh(d.path);
    expect((await store.create({ agent: "a", createdBy: "cli" })).id).toBe(6);
    await store.close();

    // A stale counter (restored backup) never overwrites an existing session.
    await writeFile(join(store.dir, "next-id"), "6\n");
    store = await fresh(d.path);
    expect((await store.create({ agent: "a", createdBy: "cli" })).id).toBe(7);
    await store.close();
  });

  test("open reads next-id and the directory at once: a directory not made yet starts at 1, a next-id it cannot read fails the open", async () => {
    await using d = await tempDir();
    const dir = join(d.path, "not", "made", "yet");
    const store = await JsonlSessionStore.open(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await store.create({ agent: "a", createdBy: "cli" })).id).toBe(1);
    await store.close();
    // Only a missing file counts as none: a next-id that is a directory is an error the open reports.
    const odd = join(d.path, "odd");
    await mkdir(join(odd, "next-id"), { recursive: true });
    await expect(JsonlSessionStore.open(odd)).rejects.toMatchObject({ code: "EISDIR" });
  });

  test("next-id follows creates within a second and at close, so an id whose file went later is not handed out again", async () => {
    await using d = await tempDir();
    const counter = () => readFile(join(d.path, "sessions", "next-id"), "utf8").catch(() => "");
    let store = await fresh(d.path);
    await store.create({ agent: "a", createdBy: "cli" });
    await store.create({ agent: "a", createdBy: "cli" });
    // Written off the creates' path, once for both, within a second (COUNTER_DELAY_MS).
    const deadline = Date.now() + 3000;
    while ((await counter()) !== "3\n") {
      if (Date.now() > deadline) throw new Error(`next-id is ${JSON.stringify(await counter())} 3 s after two creates`);
      await Bun.sleep(50);
    }
    await store.create({ agent: "a", createdBy: "cli" });
    await store.close();
    expect(await counter()).toBe("4\n");

    // The newest session file removed by hand while the store was closed: the counter still remembers its id.
    await rm(join(d.path, "sessions", "3.jsonl"));
    store = await fresh(d.path);
    expect((await store.create({ agent: "a", createdBy: "cli" })).id).toBe(4);
    await store.close();
  });

  test("summaries survive a restart, from the tail snapshot and from a full scan", async () => {
    await using d = await tempDir();
    let store = await fresh(d.path);
    const snap = await store.create({ agent: "crab", createdBy: "cli" });
    const scan = await store.create({ agent: "crab", createdBy: "tg" });
    const big = "word ".repeat(4000); // ~20 KB per message: 10 of them overflow the 64 KiB tail
    let seq = 0;
    for (let i = 0; i < 10; i++) {
      await store.append(snap.id, [
        ev(++seq, "start"),
        msg(user(big)),
        msg(
          assistant("ok", {
            usage: {
              promptTokens: 10,
              completionTokens: 1,
              cacheReadTokens: 0,
              cacheWriteTokens: 0,
              reasoningTokens: 0,
            },
          }),
        ),
        ev(++seq, "end"),
      ]);
      await store.append(scan.id, [msg(user(`${i} ${big}`))]);
    }
    // 12 KB after the last snapshot: past the first, small tail read, inside the second.
    await store.append(snap.id, [msg(user(`after the last snapshot ${"x".repeat(12_000)}`))]);
    const before = await store.list({ offset: 0, limit: 10 });
    // Simulate a crash: no close(), so no final snapshots are written.
    store = await fresh(d.path);
    const after = await store.list({ offset: 0, limit: 10 });
    expect(after).toEqual(before);
    expect(after.sessions.find((s) => s.id === snap.id)).toMatchObject({
      messageCount: 21,
      totalTokens: 110,
      lastSeq: 20,
    });
    expect(after.sessions.find((s) => s.id === scan.id)).toMatchObject({ messageCount: 10 });
    await store.close();
  });

  test("concurrent appends to several sessions keep every line whole", async () => {
    await using d = await tempDir();
    const store = await JsonlSessionStore.open(join(d.path, "sessions"), { fsync: "none" });
    const a = await store.create({ agent: "crab", createdBy: "cli" });
    const b = await store.create({ agent: "crab", createdBy: "cli" });
    const payload = (i: number) => `${i}:${"é".repeat(30_000 + i)}`;
    const jobs = [];
    for (let i = 0; i < 100; i++) {
      jobs.push(store.append(a.id, [msg(user(payload(i)))]));
      jobs.push(store.append(b.id, [msg(user(payload(i))), msg(assistant(payload(i)))]));
    }
    await Promise.all(jobs);
    for (const s of [a, b]) {
      const text = await readFile(join(store.dir, `${s.id}.jsonl`), "utf8");
      const lines = text.split("\n").slice(0, -1);
      for (const l of lines) JSON.parse(l);
      const contents = (await store.load(s.id))!.allMessages
        .filter((m) => m.role === "user")
        .map((m) => Number(m.content.split(":")[0]));
      expect(contents).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
    await store.close();
  });

  test("kill -9 of a writing process: every session still loads", async () => {
    await using d = await tempDir();
    const dir = join(d.path, "sessions");
    const script = join(d.path, "writer.ts");
    await writeFile(
      script,
      `import { JsonlSessionStore } from ${JSON.stringify(join(import.meta.dir, "../../src/store/jsonl.ts"))};
const store = await JsonlSessionStore.open(${JSON.stringify(dir)}, { fsync: "none" });
const s = await store.create({ agent: "crab", createdBy: "cli" });
let seq = 0;
console.log("ready");
for (;;) {
  await store.append(s.id, [{ kind: "event", event: { seq: ++seq, type: "start" } }, { kind: "message", message: { role: "user", content: "x".repeat(50000) } }]);
  await store.append(s.id, [{ kind: "message", message: { role: "assistant", content: "y".repeat(70000) } }]);
}
`,
    );
    const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
    const reader = child.stdout.getReader();
    await reader.read();
    await Bun.sleep(300);
    child.kill("SIGKILL");
    await child.exited;
    const store = await fresh(d.path);
    const loaded = (await store.load(1))!;
    expect(loaded).toBeDefined();
    expect(loaded.allMessages.length).toBeGreaterThan(2);
    expect(loaded.corruptLines).toBe(0);
    expect(loaded.interruptedTurn).toBeDefined();
    for (const m of loaded.messages) expect(m.content.length === 50000 || m.content.length === 70000).toBe(true);
    await store.append(1, [{ kind: "interrupted", turnSeq: loaded.interruptedTurn!.turnSeq, reason: "crash" }]);
    expect((await store.load(1))!.interruptedTurn).toBeUndefined();
    await store.close();
  });

  test("readEvents after a seq on a 10,000-event session", async () => {
    await using d = await tempDir();
    const store = await JsonlSessionStore.open(join(d.path, "sessions"), { fsync: "none" });
    const s = await store.create({ agent: "crab", createdBy: "cli" });
    for (let b = 0; b < 100; b++) {
      await store.append(
        s.id,
        Array.from({ length: 100 }, (_, i) => ev(b * 100 + i + 1, "text_delta", { text: `tok${b * 100 + i + 1} ` })),
      );
    }
    const tail = await collect(store.readEvents(s.id, 9_000));
    expect(tail).toHaveLength(1_000);
    expect(tail[0]!.event.seq).toBe(9_001);
    expect(tail.at(-1)!.event).toMatchObject({ seq: 10_000, text: "tok10000 " });
    expect(tail.every((r, i) => r.event.seq === 9_001 + i)).toBe(true);
    // Early exit closes the reader without reading the rest.
    for await (const r of store.readEvents(s.id, 0)) {
      expect(r.event.seq).toBe(1);
      break;
    }
    await store.close();
  });
});
