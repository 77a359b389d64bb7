/**
 * readLineBatches must hand over exactly the lines readLines does (text,
 * byte offset, byte length, terminated), whatever the reads cut: lines
 * longer than a read, multi-byte characters across read boundaries, empty
 * lines, an unterminated last line, a start offset inside the file.
 */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BATCH_BYTES, type Line, readLineBatches, readLines } from "../../src/store/line-reader.ts";
import { tempDir } from "./helpers.ts";

async function both(path: string, start?: number): Promise<[Line[], Line[]]> {
  const one: Line[] = [];
  for await (const l of readLines(path, { start })) one.push(l);
  const batched: Line[] = [];
  for await (const ls of readLineBatches(path, { start })) batched.push(...ls);
  return [one, batched];
}

test("batches equal line-at-a-time reading across read boundaries", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "log.jsonl");
  const pieces: string[] = [];
  let size = 0;
  for (let i = 0; size < 3 * BATCH_BYTES; i++) {
    // Lengths that put line ends and multi-byte characters (2, 3 and 4 bytes) on every side of a read boundary.
    const body = `${i}:${"é🦀€x".repeat((i * 7919) % 400)}${i % 97 === 0 ? "y".repeat(BATCH_BYTES + 17) : ""}`;
    const line = i % 13 === 0 ? "" : JSON.stringify({ ts: i, kind: "message", body });
    pieces.push(line);
    size += Buffer.byteLength(line) + 1;
  }
  writeFileSync(path, `${pieces.join("\n")}\n{"ts":1,"kind":"mess`);
  const [one, batched] = await both(path);
  expect(one.length).toBeGreaterThan(200);
  expect(batched).toEqual(one);
  expect(batched.at(-1)!.terminated).toBe(false);
  const mid = one[Math.floor(one.length / 2)]!.offset;
  const [fromMid, batchedFromMid] = await both(path, mid);
  expect(batchedFromMid).toEqual(fromMid);
  expect(batchedFromMid[0]!.offset).toBe(mid);
});
