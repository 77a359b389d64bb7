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

test("a line many reads long is joined once when it ends, not copied again on every read", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "huge.jsonl");
  // A 24-read tool result on one line (multi-byte characters cut by the reads), then ordinary lines and a torn one.
  const huge = JSON.stringify({ ts: 1, kind: "tool_result", body: "é🦀€x".repeat(Math.ceil((24 * BATCH_BYTES) / 10)) });
  const after = [JSON.stringify({ ts: 2, kind: "message", body: "next" }), JSON.stringify({ ts: 3, body: "z" })];
  const tornTail = "y".repeat(3 * BATCH_BYTES);
  writeFileSync(path, `${huge}\n${after.join("\n")}\n${tornTail}`);
  const fileBytes = Buffer.byteLength(huge) + Buffer.byteLength(after.join("\n")) + tornTail.length + 2;

  // Bytes copied into new buffers while reading, counted at the two Buffer constructors that copy.
  let copied = 0;
  const realConcat = Buffer.concat;
  const realFrom = Buffer.from;
  const lines: Line[] = [];
  try {
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const out = realConcat(list, total);
      copied += out.length;
      return out;
    }) as typeof Buffer.concat;
    Buffer.from = ((...args: Parameters<typeof Buffer.from>) => {
      const out = (realFrom as (...a: unknown[]) => Buffer)(...args);
      copied += out.length;
      return out;
    }) as typeof Buffer.from;
    for await (const batch of readLineBatches(path)) lines.push(...batch);
  } finally {
    Buffer.concat = realConcat;
    Buffer.from = realFrom;
  }

  expect(lines.map((l) => l.text)).toEqual([huge, ...after, tornTail]);
  expect(lines[0]!.bytes).toBe(Buffer.byteLength(huge));
  expect(lines[1]!.offset).toBe(Buffer.byteLength(huge) + 1);
  expect(lines.at(-1)!.terminated).toBe(false);
  // Linear: each carried byte is copied out of the reused read buffer once and joined once (2x the file). The
  // former carry, re-concatenated with every read, copied about 25x the file here (quadratic in the line's reads).
  expect(copied).toBeLessThanOrEqual(3 * fileBytes);
});
