/** writeFileAtomicSync: whole content, owner-only, no temporary left behind on success or failure. */
import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomicSync } from "../../src/util/atomic-file.ts";

test("replaces the file whole and owner-only, even over a temporary a crashed writer left open to others", () => {
  const dir = mkdtempSync(join(tmpdir(), "atomic-"));
  const file = join(dir, "state.json");
  writeFileSync(file, "old", { mode: 0o644 });
  writeFileSync(`${file}.${process.pid}.tmp`, "stale", { mode: 0o666 });
  writeFileAtomicSync(file, "new\n", { sync: true });
  expect(readFileSync(file, "utf8")).toBe("new\n");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(readdirSync(dir)).toEqual(["state.json"]);
});

test("a failed rename leaves what was there and no temporary", () => {
  const dir = mkdtempSync(join(tmpdir(), "atomic-"));
  // A file cannot be renamed over a non-empty directory.
  const busy = join(dir, "busy");
  mkdirSync(busy);
  writeFileSync(join(busy, "inside"), "kept");
  expect(() => writeFileAtomicSync(busy, "x")).toThrow();
  expect(readFileSync(join(busy, "inside"), "utf8")).toBe("kept");
  expect(readdirSync(dir)).toEqual(["busy"]);
});
