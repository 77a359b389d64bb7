/**
 * Proves the bounded per-connection queue over real Unix sockets: a peer
 * that stops reading never grows the server's queue past its bound, is
 * dropped after the stall timeout, and another peer is served at full speed
 * meanwhile.
 */
import { afterAll, expect, test } from "bun:test";
import { connect as netConnect, type Socket as NetSocket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listenUnix, type FramedConnection } from "../../src/transport/socket.ts";
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_FRAMES } from "../../src/transport/outbound-queue.ts";
import { FrameReader } from "../../src/transport/framing.ts";
import { waitFor } from "../helpers/turn-kit.ts";

const dir = mkdtempSync(join(tmpdir(), "crabtalk-bp-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FRAME = new Uint8Array(1024).fill(7);

/** Server side: on "go" from a peer, pushes `count` frames at it with backpressure. */
function startServer(stallTimeoutMs: number) {
  const stalled: FramedConnection[] = [];
  /** Every connection that asked for frames. */
  const senders: FramedConnection[] = [];
  let maxQueuedBytes = 0;
  let maxQueuedFrames = 0;
  const listener = listenUnix(
    join(dir, "s.sock"),
    {
      onFrame(conn, payload) {
        const count = new DataView(payload.buffer, payload.byteOffset).getUint32(0);
        senders.push(conn);
        void (async () => {
          try {
            for (let i = 0; i < count; i++) {
              await conn.send(FRAME);
              maxQueuedBytes = Math.max(maxQueuedBytes, conn.queue.queuedBytes);
              maxQueuedFrames = Math.max(maxQueuedFrames, conn.queue.queuedFrames);
            }
          } catch {
            // dropped
          }
        })();
      },
      onStall: (conn) => stalled.push(conn),
    },
    { stallTimeoutMs },
  );
  return { listener, stalled, senders, max: () => ({ bytes: maxQueuedBytes, frames: maxQueuedFrames }) };
}

function ask(socket: NetSocket, count: number) {
  const req = new Uint8Array(8);
  new DataView(req.buffer).setUint32(0, 4);
  new DataView(req.buffer).setUint32(4, count);
  socket.write(req);
}

async function receiveAll(count: number): Promise<number> {
  const socket = netConnect(join(dir, "s.sock"));
  await new Promise((r) => socket.once("connect", r));
  const reader = new FrameReader();
  let got = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    socket.on("data", (chunk) => {
      got += reader.push(new Uint8Array(chunk as Buffer)).length;
      if (got >= count) resolve();
    });
    ask(socket, count);
  });
  socket.destroy();
  return performance.now() - started;
}

/**
 * What the stalled peer may cost this process, the test runner that holds
 * both ends: the 4 MiB queue plus kernel-side slack and allocator noise,
 * far below the ~1 GB its request would pin if anything buffered it
 * without bound.
 */
const RSS_LIMIT = 64 * 1024 * 1024;

/** Resident memory after a full collection, so garbage from earlier frames is not counted. */
function settledRss(): number {
  Bun.gc(true);
  return process.memoryUsage().rss;
}

/**
 * RSS growth over `before`, the lowest of readings taken while `held()`
 * (the stalled peer still connected, so what it pins is still pinned), until
 * one is under `limit`: a loaded machine may not have returned freed pages
 * yet, but memory that is really held stays held, so a real leak still fails.
 * The first reading is taken at once; NaN if even that came too late.
 */
async function lowestRssGrowth(before: number, limit: number, held: () => boolean): Promise<number> {
  let lowest = Number.NaN;
  for (;;) {
    const growth = settledRss() - before;
    if (!held()) return lowest;
    lowest = Number.isNaN(lowest) ? growth : Math.min(lowest, growth);
    if (lowest < limit) return lowest;
    await Bun.sleep(50);
  }
}

test("a stalled peer stays bounded and is dropped; a second peer is served at full speed", async () => {
  const server = startServer(1500);
  const N = 20_000;
  const alone = await receiveAll(N);

  const stalledPeer = netConnect(join(dir, "s.sock"));
  await new Promise((r) => stalledPeer.once("connect", r));
  stalledPeer.pause(); // never reads: the kernel buffers fill, then our queue
  const closed = new Promise<void>((r) => stalledPeer.once("close", () => r()));
  stalledPeer.on("error", () => {});
  const rssBefore = settledRss();
  ask(stalledPeer, 1_000_000); // about 1 GB if it were unbounded
  // The stalled peer's queue is full: from here on its sender only waits.
  await waitFor(() => server.senders.some((c) => c.queue.waitingBytes > 0), 5000, "the stalled peer's queue to fill");
  const held = () => server.stalled.length === 0;
  const grownWhenFull = await lowestRssGrowth(rssBefore, RSS_LIMIT, held);
  const withStalled = await receiveAll(N);
  // NaN only if a very slow machine served the second peer after the stalled one was dropped.
  const grownAfterServing = await lowestRssGrowth(rssBefore, RSS_LIMIT, held);

  // The queue never held more than its bound (plus the one frame admitted into an empty queue).
  expect(server.max().frames).toBeLessThanOrEqual(DEFAULT_MAX_FRAMES);
  expect(server.max().bytes).toBeLessThanOrEqual(DEFAULT_MAX_BYTES + FRAME.byteLength);
  expect(grownWhenFull).toBeLessThan(RSS_LIMIT);
  if (!Number.isNaN(grownAfterServing)) expect(grownAfterServing).toBeLessThan(RSS_LIMIT);
  // Served at full speed: generous factor for a 2-core CI machine, far below what blocking would cost.
  expect(withStalled).toBeLessThan(alone * 3 + 200);

  // Dropped after the stall timeout (1.5 s here), while still not reading.
  const deadline = Date.now() + 5000;
  while (server.stalled.length === 0 && Date.now() < deadline) await Bun.sleep(50);
  expect(server.stalled.length).toBe(1);
  expect(server.stalled[0]!.isClosed).toBe(true);
  stalledPeer.resume();
  await Promise.race([closed, Bun.sleep(2000)]);
  server.listener.stop();
  stalledPeer.destroy();
}, 20_000);
