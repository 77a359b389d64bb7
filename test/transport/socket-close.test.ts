/**
 * A connection closed by the daemon in the same turn of the loop as the
 * frames it queued last (an error reply, then the close) still delivers
 * them: the outbound queue holds such frames for one coalesced write when
 * the loop turns, and the close writes them first. Over a real Unix socket,
 * and over a real WebSocket (the dashboard's carrier, one message a frame).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WsConnection } from "../../src/daemon/http/ws-connection.ts";
import { FrameReader } from "../../src/transport/framing.ts";
import { listenUnix } from "../../src/transport/socket.ts";

const dir = mkdtempSync(join(tmpdir(), "crabtalk-close-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("frames queued in the turn that closes the connection reach the peer before its end", async () => {
  const path = join(dir, "s.sock");
  const listener = listenUnix(path, {
    onFrame(conn) {
      for (let i = 1; i <= 50; i++) conn.offer(new Uint8Array(100).fill(i));
      conn.close();
    },
  });
  const socket = netConnect(path);
  await new Promise((r) => socket.once("connect", r));
  const reader = new FrameReader();
  const frames: Uint8Array[] = [];
  const ended = new Promise<void>((r) => socket.once("close", () => r()));
  socket.on("data", (chunk) => frames.push(...reader.push(new Uint8Array(chunk as Buffer))));
  socket.write(new Uint8Array([0, 0, 0, 1, 9]));
  await ended;
  listener.stop();
  expect(frames.length).toBe(50);
  expect(frames.map((f) => f[0])).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
});

test("over a WebSocket, frames queued in the turn that closes it arrive before the close, in order", async () => {
  const server = Bun.serve<{ conn?: WsConnection }, never>({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req, srv) => (srv.upgrade(req, { data: {} }) ? undefined : new Response("no", { status: 400 })),
    websocket: {
      open(ws) {
        ws.data.conn = new WsConnection(ws, "test", {}, () => undefined);
      },
      message(ws) {
        const conn = ws.data.conn!;
        for (let i = 1; i <= 50; i++) conn.offer(new Uint8Array(100).fill(i));
        conn.close();
      },
      drain(ws) {
        ws.data.conn?.drain();
      },
      close(ws) {
        ws.data.conn?.markClosed();
      },
    },
  });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    ws.binaryType = "arraybuffer";
    const got: number[] = [];
    ws.onmessage = (e) => got.push(new Uint8Array(e.data as ArrayBuffer)[0]!);
    const closed = new Promise<number>((r) => (ws.onclose = (e) => r(e.code)));
    await new Promise((r) => (ws.onopen = r));
    ws.send(new Uint8Array([1]));
    expect(await closed).toBe(1000);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  } finally {
    server.stop(true);
  }
});
