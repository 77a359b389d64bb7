/**
 * read, write and edit against things that are not regular files (issue 11
 * item 1): a FIFO, a device, the daemon's own /proc entries. Each is
 * refused at once with a message naming the path and its type, both by the
 * tools and by the file operations underneath (which check the opened
 * descriptor, so a path swapped after the tool's own check is still
 * caught). Plus the daemon-wide tool I/O limiter.
 */
import { describe, expect, test } from "bun:test";
import { readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createEditTool } from "../../src/tools/edit.ts";
import { DEFAULT_MAX_FILE_BYTES, FileRefusal, nodeFileOperations } from "../../src/tools/fs.ts";
import { IoLimiter, toolIo } from "../../src/tools/io-limit.ts";
import { createReadTool } from "../../src/tools/read.ts";
import { createWriteTool } from "../../src/tools/write.ts";
import { ctx, tempDir } from "./helpers.ts";

function mkfifo(path: string): void {
  const r = Bun.spawnSync(["mkfifo", path]);
  if (r.exitCode !== 0) throw new Error(`mkfifo ${path} failed: ${r.stderr.toString()}`);
}

/** Fails the test instead of hanging it when `p` blocks. */
async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still blocked after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe.if(process.platform === "linux")("non-regular files", () => {
  test("read, write and edit of a FIFO are refused at once, naming the path and its type", async () => {
    await using dir = await tempDir();
    const fifo = join(dir.path, "pipe");
    mkfifo(fifo);
    const expected = `${fifo} is a named pipe (FIFO), not a regular file`;
    const results = await within(
      2000,
      Promise.all([
        createWriteTool(dir.path).execute({ path: "pipe", content: "x" }, ctx()),
        createWriteTool(dir.path).execute({ path: "pipe", content: "y" }, ctx()),
        createReadTool(dir.path).execute({ path: "pipe" }, ctx()),
        createEditTool(dir.path).execute({ path: "pipe", old_string: "a", new_string: "b" }, ctx()),
      ]),
    );
    for (const r of results) {
      expect(r.isError).toBe(true);
      expect(r.output).toStartWith(expected);
    }
  });

  test("the operations check the opened descriptor: a FIFO behind the tool's back is refused, not blocked on", async () => {
    await using dir = await tempDir();
    const fifo = join(dir.path, "pipe");
    mkfifo(fifo);
    await expect(within(2000, nodeFileOperations.writeFile(fifo, "x"))).rejects.toThrow(
      `${fifo} is a named pipe (FIFO), not a regular file`,
    );
    await expect(within(2000, nodeFileOperations.readFile(fifo, 100))).rejects.toBeInstanceOf(FileRefusal);
    // A symlink to the FIFO is followed and still refused; the slot was released every time.
    await symlink(fifo, join(dir.path, "link"));
    await expect(within(2000, nodeFileOperations.writeFile(join(dir.path, "link"), "x"))).rejects.toThrow(
      "is a named pipe (FIFO)",
    );
    expect(toolIo.busy).toBe(0);
  });

  test("a character device is refused; a symlink to a regular file is followed", async () => {
    await using dir = await tempDir();
    const dev = await createReadTool(dir.path).execute({ path: "/dev/zero" }, ctx());
    expect(dev.output).toStartWith("/dev/zero is a character device, not a regular file");
    await expect(nodeFileOperations.writeFile("/dev/null", "x")).rejects.toThrow("/dev/null is a character device");
    await writeFile(join(dir.path, "real.txt"), "hello\n");
    await symlink(join(dir.path, "real.txt"), join(dir.path, "alias.txt"));
    expect((await createReadTool(dir.path).execute({ path: "alias.txt" }, ctx())).output).toBe("1\thello\n");
    await createWriteTool(dir.path).execute({ path: "alias.txt", content: "bye\n" }, ctx());
    expect(await readFile(join(dir.path, "real.txt"), "utf8")).toBe("bye\n");
  });

  test("the daemon's own /proc entries are refused by whatever path; another process's are not", async () => {
    await using dir = await tempDir();
    const read = createReadTool(dir.path);
    for (const path of ["/proc/self/environ", `/proc/${process.pid}/environ`, "/proc/thread-self/comm"]) {
      const r = await read.execute({ path }, ctx());
      expect(r.isError).toBe(true);
      expect(r.output).toContain("is the daemon's own process information");
    }
    await symlink("/proc/self/environ", join(dir.path, "env"));
    expect((await read.execute({ path: "env" }, ctx())).output).toContain("daemon's own process information");
    const other = await read.execute({ path: "/proc/1/comm" }, ctx());
    expect(other.isError).toBeUndefined();
    // Files that report size 0 are read to EOF, still under the cap.
    expect((await nodeFileOperations.readFile("/proc/1/comm", DEFAULT_MAX_FILE_BYTES)).length).toBeGreaterThan(0);
    await expect(nodeFileOperations.readFile("/proc/1/status", 10)).rejects.toThrow("is over the 10 B limit");
  });
});

describe("IoLimiter", () => {
  test("never runs more than its slots at once, serves waiters in order, frees a slot on failure", async () => {
    const limiter = new IoLimiter(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const job = (i: number) =>
      limiter.run(async () => {
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
        if (i === 1) throw new Error("boom");
        return i;
      });
    const all = [0, 1, 2, 3, 4].map((i) => job(i).catch((e: Error) => e.message));
    while (gates.length < 2) await Bun.sleep(1);
    expect(limiter.queued).toBe(3);
    for (let released = 0; released < 5; released++) {
      while (gates.length <= released) await Bun.sleep(1);
      gates[released]!();
    }
    expect(await Promise.all(all)).toEqual([0, "boom", 2, 3, 4]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect(limiter.busy).toBe(0);
  });
});
