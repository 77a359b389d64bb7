/** read, write and edit against a real temp dir: behaviours and the errors a model sees. */
import { describe, expect, test } from "bun:test";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createEditTool } from "../../src/tools/edit.ts";
import { resolveToolPath } from "../../src/tools/fs.ts";
import { builtinTools, BUILTIN_TOOL_NAMES } from "../../src/tools/index.ts";
import { createReadTool } from "../../src/tools/read.ts";
import { createWriteTool } from "../../src/tools/write.ts";
import { ctx, tempDir } from "./helpers.ts";

describe("read tool", () => {
  test("numbers lines and pages with offset and limit", async () => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, "f.txt"), `${Array.from({ length: 12 }, (_, i) => `l${i + 1}`).join("\n")}\n`);
    const read = createReadTool(dir.path);
    const all = await read.execute({ path: "f.txt" }, ctx());
    expect(all.output).toStartWith(" 1\tl1\n 2\tl2\n");
    expect(all.output).toEndWith("12\tl12\n");
    const page = await read.execute({ path: "f.txt", offset: 3, limit: 2 }, ctx());
    expect(page.output).toBe("3\tl3\n4\tl4\n[showing lines 3-4 of 12; use offset=5 to read more]\n");
    const past = await read.execute({ path: "f.txt", offset: 13 }, ctx());
    expect(past).toEqual({
      output: `offset 13 is past the end of ${join(dir.path, "f.txt")}, which has 12 lines`,
      isError: true,
    });
  });

  test("refuses missing files, directories, binary files and huge files with a reason", async () => {
    await using dir = await tempDir();
    const read = createReadTool(dir.path, { maxFileBytes: 100 });
    await writeFile(join(dir.path, "bin"), new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    await writeFile(join(dir.path, "big"), "x".repeat(101));
    await mkdir(join(dir.path, "sub"));
    expect((await read.execute({ path: "nope" }, ctx())).output).toStartWith("file not found:");
    expect((await read.execute({ path: "sub" }, ctx())).output).toContain("is a directory");
    expect((await read.execute({ path: "bin" }, ctx())).output).toContain("looks like a binary file");
    const big = await read.execute({ path: "big" }, ctx());
    expect(big.isError).toBe(true);
    expect(big.output).toContain("is 101 B, over the 100 B limit");
  });

  test("an empty file says so", async () => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, "e"), "");
    expect((await createReadTool(dir.path).execute({ path: "e" }, ctx())).output).toContain("is empty");
  });
});

describe("write tool", () => {
  test("creates parent directories and reports bytes written", async () => {
    await using dir = await tempDir();
    const write = createWriteTool(dir.path);
    const out = await write.execute({ path: "a/b/c.txt", content: "héllo" }, ctx());
    expect(out.output).toBe(`created ${join(dir.path, "a/b/c.txt")} (6 bytes written)`);
    expect(await readFile(join(dir.path, "a/b/c.txt"), "utf8")).toBe("héllo");
    const again = await write.execute({ path: join(dir.path, "a/b/c.txt"), content: "" }, ctx());
    expect(again.output).toStartWith("overwrote");
    expect((await write.execute({ path: "a", content: "x" }, ctx())).isError).toBe(true);
  });
});

describe("edit tool", () => {
  test("replaces a unique match exactly, $ patterns included", async () => {
    await using dir = await tempDir();
    const file = join(dir.path, "f.ts");
    await writeFile(file, "const a = 1;\nconst b = 2;\n");
    const edit = createEditTool(dir.path);
    const out = await edit.execute({ path: "f.ts", old_string: "const b = 2;", new_string: "const b = '$&';" }, ctx());
    expect(out).toEqual({ output: `replaced 1 occurrence in ${file}` });
    expect(await readFile(file, "utf8")).toBe("const a = 1;\nconst b = '$&';\n");
  });

  test("no match and several matches are clear errors; replace_all replaces every one", async () => {
    await using dir = await tempDir();
    const file = join(dir.path, "f.txt");
    await writeFile(file, "x y x z x");
    const edit = createEditTool(dir.path);
    const none = await edit.execute({ path: "f.txt", old_string: "w", new_string: "v" }, ctx());
    expect(none.isError).toBe(true);
    expect(none.output).toContain("old_string was not found");
    const many = await edit.execute({ path: "f.txt", old_string: "x", new_string: "v" }, ctx());
    expect(many).toEqual({
      output: `old_string occurs 3 times in ${file}; include more surrounding text so it occurs once, or set replace_all to true`,
      isError: true,
    });
    expect(await readFile(file, "utf8")).toBe("x y x z x");
    const all = await edit.execute({ path: "f.txt", old_string: "x", new_string: "v", replace_all: true }, ctx());
    expect(all.output).toBe(`replaced 3 occurrences in ${file}`);
    expect(await readFile(file, "utf8")).toBe("v y v z v");
    expect((await edit.execute({ path: "missing", old_string: "a", new_string: "b" }, ctx())).output).toContain(
      "file not found",
    );
    expect((await edit.execute({ path: "f.txt", old_string: "v", new_string: "v" }, ctx())).isError).toBe(true);
  });
});

describe("builtinTools", () => {
  test("returns the four tools with object schemas and descriptions", () => {
    const tools = builtinTools({ cwd: "/tmp" });
    expect(tools.map((t) => t.name)).toEqual([...BUILTIN_TOOL_NAMES]);
    for (const t of tools) {
      expect(t.parameters.type).toBe("object");
      expect(t.parameters.additionalProperties).toBe(false);
      expect(t.description.length).toBeGreaterThan(40);
    }
  });

  test("paths resolve against the cwd, ~ against home", () => {
    expect(resolveToolPath("/w", "a/b")).toBe("/w/a/b");
    expect(resolveToolPath("/w", "/etc/x")).toBe("/etc/x");
    expect(resolveToolPath("/w", "~/x", "/home/me")).toBe("/home/me/x");
    expect(resolveToolPath("/w", "../y")).toBe("/y");
  });
});
