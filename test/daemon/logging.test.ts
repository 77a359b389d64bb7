import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatLogLine, RotatingFile } from "../../src/daemon/logging.ts";

test("the log file rotates by size and keeps three old files", () => {
  const dir = mkdtempSync(join(tmpdir(), "crabtalk-log-"));
  const file = join(dir, "daemon.log");
  const log = new RotatingFile(file, 1000);
  for (let i = 0; i < 100; i++) log.append(`line ${i} ${"x".repeat(80)}`);
  expect(readFileSync(file).byteLength).toBeLessThanOrEqual(1000);
  expect(existsSync(`${file}.1`)).toBe(true);
  expect(existsSync(`${file}.3`)).toBe(true);
  expect(existsSync(`${file}.4`)).toBe(false);
  expect(readFileSync(file, "utf8")).toContain("line 99");
  rmSync(dir, { recursive: true, force: true });
});

test("log lines carry time, level and tag, with secrets scrubbed", () => {
  const line = formatLogLine(
    {
      date: new Date(0),
      type: "warn",
      tag: "provider",
      args: ["key sk-abcdefghijklmnop and literal hunter2secret"],
      level: 1,
    },
    ["hunter2secret"],
  );
  expect(line).toBe("1970-01-01T00:00:00.000Z WARN  [provider] key *** and literal ***");
});
