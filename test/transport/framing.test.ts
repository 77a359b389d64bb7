import { describe, expect, test } from "bun:test";
import { encodeFrame, FrameReader, FrameTooLarge, MAX_FRAME_BYTES } from "../../src/transport/framing.ts";

function payload(n: number, seed: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 31 + seed) & 0xff;
  return p;
}

describe("FrameReader", () => {
  test("reassembles frames split at every possible byte boundary", () => {
    const frames = [payload(0, 1), payload(1, 2), payload(300, 3), payload(5, 4)];
    const wire = Buffer.concat(frames.map(encodeFrame));
    for (let split = 0; split <= wire.length; split++) {
      const reader = new FrameReader();
      const out = [...reader.push(wire.subarray(0, split)), ...reader.push(wire.subarray(split))];
      expect(out.map((f) => Buffer.from(f).toString("hex"))).toEqual(frames.map((f) => Buffer.from(f).toString("hex")));
      expect(reader.pendingBytes).toBe(0);
    }
  });

  test("one byte at a time, and many frames in one read", () => {
    const frames = Array.from({ length: 50 }, (_, i) => payload(i * 7, i));
    const wire = Buffer.concat(frames.map(encodeFrame));
    const reader = new FrameReader();
    const out: Uint8Array[] = [];
    for (const byte of wire) out.push(...reader.push(new Uint8Array([byte])));
    expect(out.length).toBe(50);
    expect(new FrameReader().push(wire).length).toBe(50);
  });

  test("random chunking keeps content intact", () => {
    const frames = Array.from({ length: 200 }, (_, i) => payload((i * 97) % 3000, i));
    const wire = Buffer.concat(frames.map(encodeFrame));
    const reader = new FrameReader();
    const out: Uint8Array[] = [];
    let at = 0;
    let rnd = 12345;
    while (at < wire.length) {
      rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
      const n = 1 + (rnd % 4096);
      out.push(...reader.push(wire.subarray(at, at + n)));
      at += n;
    }
    expect(Buffer.concat(out).equals(Buffer.concat(frames))).toBe(true);
  });

  test("a declared length over 16 MiB throws FrameTooLarge before buffering it", () => {
    const reader = new FrameReader();
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1, false);
    expect(() => reader.push(header)).toThrow(FrameTooLarge);
  });

  test("a length exactly at the limit is accepted", () => {
    const reader = new FrameReader();
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES, false);
    expect(reader.push(header)).toEqual([]);
  });

  test("encodeFrame refuses payloads over the limit", () => {
    expect(() => encodeFrame(new Uint8Array(MAX_FRAME_BYTES + 1))).toThrow(FrameTooLarge);
  });
});
