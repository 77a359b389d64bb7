/**
 * ReadDescriptor (store/read-descriptor.ts), the descriptor a resume folds
 * its log through: positioned reads, a synchronous close, and never a
 * close under a read in flight (the descriptor's number could be reused by
 * the next open and the read land in another file). Checked against the
 * process's own descriptor table (/proc/self/fd, Linux).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ReadDescriptor } from "../../src/store/read-descriptor.ts";
import { tempDir } from "./helpers.ts";

/** The file descriptor `fd` of this process refers to now, or undefined when it is closed. */
function fileOf(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

async function withFile<T>(content: string, fn: (path: string) => Promise<T>): Promise<T> {
  await using dir = await tempDir();
  const path = join(dir.path, "log");
  writeFileSync(path, content);
  return await fn(path);
}

describe.skipIf(!existsSync("/proc/self/fd"))("ReadDescriptor", () => {
  test("reads at a position and closes its descriptor at once when no read is in flight", async () => {
    await withFile("0123456789", async (path) => {
      const fd = await ReadDescriptor.open(path);
      expect(fileOf(fd.descriptor)).toBe(path);
      const buf = Buffer.alloc(4);
      expect((await fd.read(buf, 0, 4, 3)).bytesRead).toBe(4);
      expect(buf.toString()).toBe("3456");
      expect((await fd.stat()).size).toBe(10);
      fd.close();
      expect(fileOf(fd.descriptor)).toBeUndefined();
      fd.close(); // idempotent: the number may belong to another file by now, so it is not closed twice
    });
  });

  test("a close asked for while reads are in flight waits for them, then closes", async () => {
    await withFile("x".repeat(1 << 20), async (path) => {
      const fd = await ReadDescriptor.open(path);
      const bufs = [0, 1, 2, 3].map(() => Buffer.alloc(256 * 1024));
      const reads = bufs.map((b, i) => fd.read(b, 0, b.length, i * b.length));
      fd.close();
      expect(fileOf(fd.descriptor)).toBe(path); // still open: four reads are in flight
      // Every read issued before the close gets its bytes from this file.
      const done = await Promise.all(reads);
      expect(done.map((r) => r.bytesRead)).toEqual([262144, 262144, 262144, 262144]);
      expect(bufs.every((b) => b.every((c) => c === 0x78))).toBe(true);
      expect(fileOf(fd.descriptor)).toBeUndefined();
    });
  });

  test("a read after close is refused, not sent to a descriptor number that may be reused", async () => {
    await withFile("abc", async (path) => {
      const fd = await ReadDescriptor.open(path);
      fd.close();
      await expect(fd.read(Buffer.alloc(1), 0, 1, 0)).rejects.toThrow("read after close");
      await expect(fd.stat()).rejects.toThrow("stat after close");
    });
  });

  test("opening a missing file rejects with the system's error", async () => {
    await expect(ReadDescriptor.open("/nonexistent/crabtalk/log")).rejects.toMatchObject({ code: "ENOENT" });
  });
});
