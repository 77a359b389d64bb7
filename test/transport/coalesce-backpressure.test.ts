/**
 * Coalesced writes under backpressure: the outbound queue lays frames end
 * to end in one shared scratch buffer per write and keeps what the socket
 * did not take (outbound-queue.ts), so every byte must still arrive once,
 * in order, when the peer stops reading for a while. Over a Unix socket
 * (writes are cut short mid-frame) and over TLS (Bun takes a write whole
 * or not at all, and must have copied what it took before the scratch is
 * reused). Real listeners (the certificate from `crabtalk tls init`) and
 * node:net / node:tls peers that pause.
 */
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { FrameReader } from "../../src/transport/framing.ts";
import { type ConnectionHandlers, type Listener, listenTcp, listenUnix } from "../../src/transport/socket.ts";
import { tempHome } from "../helpers/daemon.ts";
import { tlsInit } from "../e2e/remote-kit.ts";

const home = tempHome("crabtalk-tls-coalesce-");
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Frame i: its index, then bytes that depend on it, 20 to 1,200 bytes in all. */
function frame(i: number): Uint8Array {
  const f = new Uint8Array(20 + ((i * 7919) % 1181));
  new DataView(f.buffer).setUint32(0, i);
  for (let j = 4; j < f.length; j++) f[j] = (i * 31 + j) & 0xff;
  return f;
}

/** The server: on any frame from a peer, sends it N frames, waiting for room as a reply stream does. */
function pusher(N: number, progress: { sent: number }): ConnectionHandlers {
  return {
    onFrame(conn) {
      void (async () => {
        for (let i = 0; i < N; i++) {
          await conn.send(frame(i));
          progress.sent++;
        }
      })();
    },
  };
}

/** Asks for N frames, stops reading for 300 ms, then reads them all; checks every byte. */
async function pausingPeer(socket: Socket, N: number, progress: { sent: number }): Promise<void> {
  const reader = new FrameReader();
  let got = 0;
  let wrong = -1;
  const done = new Promise<void>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      for (const f of reader.push(new Uint8Array(chunk))) {
        if (wrong < 0 && !Buffer.from(f).equals(Buffer.from(frame(got)))) wrong = got;
        got++;
      }
      if (got >= N) resolve();
    });
  });
  socket.write(new Uint8Array([0, 0, 0, 1, 1]));
  // Not reading for a while: the kernel buffers fill up, the queue holds the rest.
  socket.pause();
  await Bun.sleep(300);
  const sentWhilePaused = progress.sent;
  socket.resume();
  await done;
  socket.destroy();
  expect(sentWhilePaused).toBeLessThan(N); // the pause really held the sender back
  expect(wrong).toBe(-1);
  expect(got).toBe(N);
}

const N = 20_000;

test("20,000 frames in bursts reach a Unix-socket peer that pauses, every byte once and in order", async () => {
  const progress = { sent: 0 };
  const path = join(home, "s.sock");
  const listener: Listener = listenUnix(path, pusher(N, progress), { stallTimeoutMs: 30_000 });
  const socket = netConnect(path);
  await new Promise((r) => socket.once("connect", r));
  await pausingPeer(socket, N, progress);
  listener.stop();
}, 30_000);

test("20,000 frames in bursts reach a TLS peer that pauses, every byte once and in order", async () => {
  await tlsInit(home);
  const progress = { sent: 0 };
  const listener = listenTcp("127.0.0.1", 0, pusher(N, progress), {
    tls: { cert: join(home, "tls", "cert.pem"), key: join(home, "tls", "key.pem") },
    stallTimeoutMs: 30_000,
  });
  const socket = tlsConnect({ host: "127.0.0.1", port: listener.port, rejectUnauthorized: false });
  await new Promise((r) => socket.once("secureConnect", r));
  await pausingPeer(socket, N, progress);
  listener.stop();
}, 30_000);
