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

const dir = mkdtempSync(join(tmpdir(), "crabtalk-bp-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FRAME = new Uint8Array(1024).fill(7);

/** Server side: on "go" from a peer, pushes `count` frames at it with backpressure. */
function startServer(stallTimeoutMs: number) {
  const stalled: FramedConnection[] = [];
  let maxQueuedBytes = 0;
  let maxQueuedFrames = 0;
  const listener = listenUnix(
    join(dir, "s.sock"),
    {
      onFrame(conn, payload) {
        const count = new DataView(payload.buffer, payload.byteOffset).getUint32(0);
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
  return { listener, stalled, max: () => ({ bytes: maxQueuedBytes, frames: maxQueuedFrames }) };
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

test("a stalled peer stays bounded and is dropped; a second peer is served at full speed", async () => {
  const server = startServer(1500);
  const N = 20_000;
  const alone = await receiveAll(N);

  const stalledPeer = netConnect(join(dir, "s.sock"));
  await new Promise((r) => stalledPeer.once("connect", r));
  stalledPeer.pause(); // never reads: the kernel buffers fill, then our queue
  const closed = new Promise<void>((r) => stalledPeer.once("close", () => r()));
  stalledPeer.on("error", () => {});
  ask(stalledPeer, 1_000_000); // about 1 GB if it were unbounded
  await Bun.sleep(200);
  const rssBefore = process.memoryUsage().rss;
  const withStalled = await receiveAll(N);
  const rssAfter = process.memoryUsage().rss;

  // The queue never held more than its bound (plus the one frame admitted into an empty queue).
  expect(server.max().frames).toBeLessThanOrEqual(DEFAULT_MAX_FRAMES);
  expect(server.max().bytes).toBeLessThanOrEqual(DEFAULT_MAX_BYTES + FRAME.byteLength);
  expect(rssAfter - rssBefore).toBeLessThan(64 * 1024 * 1024);
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
