/**
 * The memory folder (src/memory/store.ts) on a real temp directory: slugs,
 * concurrent writes, a rename-over edit of the same size and mtime tick,
 * broken files skipped and logged once, MEMORY.md kept apart from entries.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryInputError, MemoryStore, slugOf } from "../../src/memory/store.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function folder(): string {
  const d = mkdtempSync(join(tmpdir(), "crabtalk-memstore-"));
  dirs.push(d);
  return d;
}

test("slugs are lowercase ASCII words; empty and reserved names are refused", () => {
  expect(slugOf("Deploy Target!")).toBe("deploy-target");
  expect(slugOf("Café  crème")).toBe("cafe-creme");
  expect(() => slugOf("!!!")).toThrow(MemoryInputError);
  expect(() => slugOf("Memory")).toThrow("reserved");
});

test("fifty concurrent remembers all land and are all recalled", async () => {
  const store = new MemoryStore(folder());
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      store.remember({ name: `note ${i}`, description: `number ${i}`, content: `word${i}` }),
    ),
  );
  expect((await store.list()).length).toBe(50);
  for (const i of [0, 17, 49]) expect((await store.recall(`word${i}`, 1))[0]!.entry.name).toBe(`note ${i}`);
});

test("an edit renamed over the file is seen even with the same size", async () => {
  const dir = folder();
  const store = new MemoryStore(dir);
  await store.remember({ name: "pet", description: "the pet", content: "a cat" });
  expect((await store.recall("cat", 1)).length).toBe(1);
  writeFileSync(join(dir, ".tmp-edit"), "---\nname: pet\ndescription: the pet\n---\n\na dog\n");
  renameSync(join(dir, ".tmp-edit"), join(dir, "pet.md"));
  expect((await store.recall("dog", 1))[0]!.entry.content).toBe("a dog");
  expect(await store.recall("cat", 1)).toEqual([]);
});

test("a broken entry is skipped and logged once; MEMORY.md is not an entry", async () => {
  const dir = folder();
  const warnings: string[] = [];
  const store = new MemoryStore(dir, (m) => warnings.push(m));
  writeFileSync(join(dir, "bad.md"), "---\nname: [oops\n---\nbody\n");
  writeFileSync(join(dir, "MEMORY.md"), "always here\n");
  expect(await store.list()).toEqual([]);
  await store.list();
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain(`memory entry ${join(dir, "bad.md")} skipped`);
  expect(await store.readIndex()).toBe("always here\n");
});
