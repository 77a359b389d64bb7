/** The single-instance lock: stale owners (dead pid, or a pid reused by another process) are replaced; a live one refuses. */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acquireLock, AlreadyRunning } from "../../src/daemon/lock.ts";
import { processStartTime } from "../../src/util/process.ts";

const lockPath = () => join(mkdtempSync(join(tmpdir(), "crabtalk-lock-")), "crabtalk.lock");

test("the lock records pid and start time and is released by its owner", () => {
  const path = lockPath();
  const { lock } = acquireLock(path);
  const [pid, start] = readFileSync(path, "utf8").trim().split(" ");
  expect(Number(pid)).toBe(process.pid);
  if (process.platform === "linux") expect(start).toBe(processStartTime(process.pid));
  lock.release();
  expect(() => readFileSync(path)).toThrow();
});

test("a live owner refuses a second taker", () => {
  const path = lockPath();
  const child = Bun.spawn(["sleep", "5"]);
  writeFileSync(path, `${`${child.pid} ${processStartTime(child.pid) ?? ""}`.trim()}\n`);
  expect(() => acquireLock(path)).toThrow(AlreadyRunning);
  child.kill();
});

test.if(process.platform === "linux")("a live pid whose start time differs is a reused pid: the lock is stale", () => {
  const path = lockPath();
  const child = Bun.spawn(["sleep", "5"]);
  writeFileSync(path, `${child.pid} 1\n`);
  const { lock, replacedStale } = acquireLock(path);
  expect(replacedStale).toBe(child.pid);
  lock.release();
  child.kill();
});
