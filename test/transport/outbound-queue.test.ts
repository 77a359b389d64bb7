/** The bounded queue's bookkeeping under partial writes and coalescing, with a sink that takes random amounts. */
import { expect, test } from "bun:test";
import { OutboundQueue, UnreadBacklog } from "../../src/transport/outbound-queue.ts";

test("every byte arrives once and in order, however the sink splits writes", () => {
  let rnd = 7;
  const received: number[] = [];
  let open = true;
  const q = new OutboundQueue(
    {
      write(data) {
        if (!open) return 0;
        rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
        const n = Math.min(data.byteLength, rnd % 3 === 0 ? 0 : 1 + (rnd % 9000));
        for (let i = 0; i < n; i++) received.push(data[i]!);
        return n;
      },
    },
    { maxFrames: 1_000_000, maxBytes: 1 << 30 },
  );
  const sent: number[] = [];
  for (let f = 0; f < 2000; f++) {
    const frame = new Uint8Array(1 + (f % 300)).map((_, i) => (f + i) & 0xff);
    sent.push(...frame);
    expect(q.offer(frame)).toBe(true);
  }
  for (let i = 0; i < 100_000 && q.queuedFrames > 0; i++) q.flush();
  expect(q.queuedFrames).toBe(0);
  expect(q.queuedBytes).toBe(0);
  expect(received.length).toBe(sent.length);
  expect(Buffer.from(received).equals(Buffer.from(sent))).toBe(true);
  open = false;
});

test("offer refuses past the frame bound; send waits for room and fails when closed", async () => {
  let accept = false;
  const q = new OutboundQueue(
    { write: (d) => (accept ? d.byteLength : 0) },
    { maxFrames: 3, maxBytes: 1 << 20, stallTimeoutMs: 60_000 },
  );
  expect(q.offer(new Uint8Array(10))).toBe(true);
  expect(q.offer(new Uint8Array(10))).toBe(true);
  expect(q.offer(new Uint8Array(10))).toBe(true);
  expect(q.offer(new Uint8Array(10))).toBe(false);
  const waiting = q.send(new Uint8Array(10));
  accept = true;
  q.flush();
  await waiting;
  q.close();
  await expect(q.send(new Uint8Array(1))).rejects.toThrow();
});

test("a bounded send waits while the waiting bytes fit the bound, one frame always; past that it refuses with UnreadBacklog", async () => {
  let accept = false;
  const q = new OutboundQueue(
    { write: (d) => (accept ? d.byteLength : 0) },
    { maxFrames: 10, maxBytes: 1000, stallTimeoutMs: 60_000 },
  );
  expect(q.offer(new Uint8Array(2000))).toBe(true); // admitted into the empty queue; the sink takes nothing
  const first = q.send(new Uint8Array(1500), { bounded: true }); // over the bound, but the only one waiting
  const second = q.send(new Uint8Array(1500), { bounded: true });
  await expect(second).rejects.toBeInstanceOf(UnreadBacklog);
  await expect(second).rejects.toThrow("has not read");
  expect(q.waitingBytes).toBe(1500);
  const unbounded = q.send(new Uint8Array(1500)); // unbounded senders still wait
  expect(q.waitingBytes).toBe(3000);
  accept = true;
  q.flush();
  await first;
  q.flush();
  await unbounded;
  expect(q.waitingBytes).toBe(0);
  q.close();
});

test("the first frame of a turn of the loop is written at once; the ones after it in that turn go in one write when it turns", async () => {
  const writes: number[] = [];
  const q = new OutboundQueue({
    write: (d) => {
      writes.push(d.byteLength);
      return d.byteLength;
    },
  });
  expect(q.offer(new Uint8Array(10))).toBe(true);
  expect(writes).toEqual([10]);
  for (let i = 0; i < 100; i++) expect(q.offer(new Uint8Array(5))).toBe(true);
  expect(writes).toEqual([10]);
  expect(q.queuedFrames).toBe(100);
  await new Promise((r) => setImmediate(r));
  expect(writes).toEqual([10, 500]);
  expect(q.queuedFrames).toBe(0);
  // A later turn's first frame goes out at once again.
  q.offer(new Uint8Array(7));
  expect(writes).toEqual([10, 500, 7]);
  // A flush writes what the turn queued without waiting (an owner closing the connection calls it).
  q.offer(new Uint8Array(3));
  expect(writes).toEqual([10, 500, 7]);
  q.flush();
  expect(writes).toEqual([10, 500, 7, 3]);
  q.close();
});
