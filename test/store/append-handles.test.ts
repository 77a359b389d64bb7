/**
 * AppendHandles: appends through kept-open descriptors land whole and in
 * order, at most `max` stay open (least recently used closed first), and a
 * file changed behind a forgotten handle is appended to at its real end.
 */
import { describe, expect, test } from "bun:test";
import { readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AppendHandles } from "../../src/store/append-handles.ts";
import { tempDir } from "./helpers.ts";

describe("AppendHandles", () => {
  test("appends land in order; strings, bytes and pieces alike", async () => {
    await using d = await tempDir();
    const handles = new AppendHandles(4);
    const file = join(d.path, "a.jsonl");
    await handles.append(file, "one\n", true);
    await handles.append(file, new TextEncoder().encode("two\n"), false);
    await handles.append(file, ["thr", "ee\n", "— four\n"], true);
    expect(await readFile(file, "utf8")).toBe("one\ntwo\nthree\n— four\n");
    expect(handles.openCount).toBe(1);
    await handles.closeAll();
    expect(handles.openCount).toBe(0);
  });

  test("never more than max open: the least recently used is closed and reopened when needed", async () => {
    await using d = await tempDir();
    const handles = new AppendHandles(3);
    const files = Array.from({ length: 10 }, (_, i) => join(d.path, `${i}.jsonl`));
    for (let round = 0; round < 3; round++)
      for (const f of files) {
        await handles.append(f, `${round}\n`, false);
        expect(handles.openCount).toBeLessThanOrEqual(3);
      }
    for (const f of files) expect(await readFile(f, "utf8")).toBe("0\n1\n2\n");
    await handles.closeAll();
  });

  test("concurrent appends to more files than max never lose a handle mid-write", async () => {
    await using d = await tempDir();
    const handles = new AppendHandles(3);
    const files = Array.from({ length: 20 }, (_, i) => join(d.path, `${i}.jsonl`));
    for (let round = 0; round < 5; round++)
      await Promise.all(files.map((f, i) => handles.append(f, `${round}:${i}\n`, round % 2 === 0)));
    for (const [i, f] of files.entries())
      expect(await readFile(f, "utf8")).toBe([0, 1, 2, 3, 4].map((r) => `${r}:${i}\n`).join(""));
    await handles.closeAll();
  });

  test("after forget, a file cut or grown by other means is appended to at its real end", async () => {
    await using d = await tempDir();
    const handles = new AppendHandles(2);
    const file = join(d.path, "s.jsonl");
    await handles.append(file, "keep\ntorn", false);
    await handles.forget(file);
    await truncate(file, 5); // what a tail repair does
    await handles.append(file, "next\n", false);
    expect(await readFile(file, "utf8")).toBe("keep\nnext\n");
    await handles.forget(file);
    await writeFile(file, "other\n", { flag: "a" });
    await handles.append(file, "last\n", false);
    expect(await readFile(file, "utf8")).toBe("keep\nnext\nother\nlast\n");
    await handles.closeAll();
  });

  test("a file that cannot be opened is a StoreWriteError naming it", async () => {
    await using d = await tempDir();
    const handles = new AppendHandles(2);
    const file = join(d.path, "missing-dir", "x.jsonl");
    await expect(handles.append(file, "x\n", false)).rejects.toThrow(`could not write ${file}: ENOENT`);
    expect(handles.openCount).toBe(0);
  });
});

describe("AppendHandles.create", () => {
  test("creates with the first content, refuses an existing file, and appends to the new one without reopening", async () => {
    await using d = await tempDir();
    const handles = new AppendHandles(4);
    const file = join(d.path, "1.jsonl");
    expect(await handles.create(file, "meta\n", true)).toBe(true);
    expect(handles.openCount).toBe(1);
    expect(await handles.create(file, "other\n", true)).toBe(false);
    await handles.append(file, "first\n", true);
    expect(await readFile(file, "utf8")).toBe("meta\nfirst\n");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await handles.closeAll();
  });
});
