/**
 * The connection router against a peer that writes but never reads: what it
 * queues for that peer stays bounded however many frames it sends.
 */
import { expect, test } from "bun:test";
import { ConnectionRouter } from "../../src/daemon/router.ts";
import { clientMessage } from "../../src/protocol/codec.ts";
import { WireError } from "../../src/protocol/errors.ts";
import { OutboundQueue } from "../../src/transport/outbound-queue.ts";
import type { FramedConnection } from "../../src/transport/socket.ts";

/** A connection whose peer reads nothing: sends wait for ever, offers are refused once one frame is queued. */
function stalledConnection(): FramedConnection & { waitingSends: number; offered: number } {
  let queued = 0;
  const conn = {
    id: 1,
    peer: "test",
    isClosed: false,
    closed: new Promise<void>(() => {}),
    queue: new OutboundQueue({ write: () => 0 }),
    waitingSends: 0,
    offered: 0,
    send(): Promise<void> {
      conn.waitingSends++;
      return new Promise<void>(() => {});
    },
    offer(): boolean {
      conn.offered++;
      return queued++ === 0;
    },
    close() {},
    partialFrameAgeMs: () => 0,
  };
  return conn;
}

test("protocol errors to a peer that does not read are dropped, not queued without bound", () => {
  const conn = stalledConnection();
  const router = new ConnectionRouter(conn, {});
  for (let i = 0; i < 10_000; i++) router.onFrame(new Uint8Array(0));
  for (let i = 0; i < 10_000; i++) router.onFrame(new Uint8Array([0xff, 0xff, 0xff]));
  expect(conn.waitingSends).toBe(0);
  expect(conn.offered).toBe(20_000);
});

test("control requests without a request id count against the in-flight cap", async () => {
  const conn = stalledConnection();
  const router = new ConnectionRouter(conn, {
    cancel: () => {
      throw new WireError(404, "no turn is running");
    },
  });
  const frame = clientMessage.encode({ cancel: { session: 7 } });
  for (let i = 0; i < 10_000; i++) router.onFrame(frame);
  await Bun.sleep(10);
  expect(conn.waitingSends).toBeLessThanOrEqual(256);
});

test("a long-lived connection's requests do not pile up memory (Bun's AbortSignal.any keeps every listened-to composite of a live source)", async () => {
  let sent = 0;
  const conn = {
    ...stalledConnection(),
    send: () => {
      sent++;
      return Promise.resolve();
    },
  };
  // Like the turn and attach handlers: a listener on the request's signal, to stop on disconnect.
  const router = new ConnectionRouter(conn, {
    ping: (_req, ctx) => {
      ctx.signal.addEventListener("abort", () => {}, { once: true });
      return { pong: {} };
    },
  });
  const frame = clientMessage.encode({ ping: {} });
  const batch = async () => {
    for (let i = 0; i < 50; i++) {
      const target = sent + 1000;
      for (let j = 0; j < 1000; j++) router.onFrame(frame);
      while (sent < target) await Bun.sleep(0);
    }
    Bun.gc(true);
  };
  await batch();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 3; i++) await batch();
  const grownMb = (process.memoryUsage().rss - before) / 1e6;
  expect(grownMb).toBeLessThan(60);
}, 60_000);
