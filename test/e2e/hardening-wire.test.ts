/**
 * What one client can make the daemon hold, measured on the compiled
 * binary's VmRSS: replies it asks for but never reads, frames it leaves
 * nearly complete on many connections, a frame it drips a byte at a time.
 * Each case is the attack from issue 11 item 8, at the size that showed it.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as netConnect, type Socket as NetSocket } from "node:net";
import { join } from "node:path";
import { clientMessage, serverMessage } from "../../src/protocol/codec.ts";
import type { ServerMessage } from "../../src/protocol/gen/crabtalk.ts";
import { FrameReader, MAX_FRAME_BYTES } from "../../src/transport/framing.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { frame, lengthPrefix, rawConnect } from "../helpers/raw-socket.ts";

const CONFIG = `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`;

/**
 * For the memory cases: the stall limits (a reader that reads nothing, a frame left half-sent) at 120 s,
 * so the waits for memory to settle (up to 33 s on a loaded machine) never drop the connections under test.
 */
const PATIENT_CONFIG = CONFIG.replace("tcp = false\n", "tcp = false\nclient_stall_timeout_ms = 120000\n");

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * The daemon's resident memory once it has finished the work it was given:
 * waits until its CPU time stops advancing (under 3 ticks in 500 ms), then
 * takes the lowest of a few samples, so garbage awaiting collection is not
 * counted as held.
 *
 * With `ceiling` (MiB), it keeps sampling while the lowest reading is above
 * it, for up to `patienceMs` more: memory the daemon let go of (the chunks of
 * frames it refused, replies it dropped) leaves RSS only once the garbage
 * collector and the allocator get to it, which on a loaded machine can take
 * seconds past the CPU going quiet; memory it still holds never leaves, so
 * waiting longer cannot hide what these tests look for.
 */
async function settledRssMiB(pid: number, ceiling = Infinity, patienceMs = 20_000): Promise<number> {
  const deadline = Date.now() + 12_000;
  let ticks = cpuTicks(pid);
  for (;;) {
    await Bun.sleep(500);
    const now = cpuTicks(pid);
    if (now - ticks < 3 || Date.now() > deadline) break;
    ticks = now;
  }
  let low = Infinity;
  for (let i = 0; i < 4; i++, await Bun.sleep(250)) low = Math.min(low, rssMiB(pid));
  const patience = Date.now() + patienceMs;
  while (low > ceiling && Date.now() < patience) {
    await Bun.sleep(250);
    low = Math.min(low, rssMiB(pid));
  }
  return low;
}

async function connectPaused(path: string): Promise<NetSocket> {
  const socket = netConnect(path);
  socket.on("error", () => {});
  await new Promise((r) => socket.once("connect", r));
  socket.pause();
  return socket;
}

/** Reads `count` replies from a paused socket, resuming it. */
function readReplies(socket: NetSocket, count: number): Promise<ServerMessage[]> {
  const reader = new FrameReader();
  const replies: ServerMessage[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${replies.length} of ${count} replies within 10 s`)), 10_000);
    socket.on("data", (chunk: Buffer) => {
      for (const f of reader.push(new Uint8Array(chunk))) replies.push(serverMessage.decode(f));
      if (replies.length >= count) {
        clearTimeout(timer);
        resolve(replies);
      }
    });
    socket.resume();
  });
}

async function pingWorks(d: DaemonHandle): Promise<boolean> {
  const c = await d.client();
  try {
    return (await c.request({ ping: {} })).msg === "pong";
  } finally {
    c.close();
  }
}

/** A session of about `mb` MB on disk, in the JSONL store's layout. */
function writeBigSession(home: string, mb: number): void {
  mkdirSync(join(home, "sessions"), { recursive: true, mode: 0o700 });
  const t0 = Date.now();
  const lines = [JSON.stringify({ ts: t0, kind: "meta", v: 1, id: 1, agent: "crab", createdBy: "cli", createdAt: t0 })];
  const content = "x".repeat(100_000);
  for (let i = 0; i < mb * 10; i++) {
    const role = i % 2 ? "assistant" : "user";
    lines.push(JSON.stringify({ ts: t0 + i, kind: "message", message: { role, content, timestamp: t0 + i } }));
  }
  writeFileSync(join(home, "sessions", "1.jsonl"), `${lines.join("\n")}\n`, { mode: 0o600 });
}

/**
 * Margin for the unread-replies case: what may stay is one 10 MB reply in
 * the queue and one waiting (20 MB encoded) plus heap the loads leave
 * behind; measured +38 to +74 MiB. Unbounded, the hundred replies pinned
 * +1,038 MiB. 250 MiB sits far from both.
 */
const UNREAD_MARGIN_MIB = 250;

test("100 GetHistory of a 10 MB session on a connection that reads nothing: memory stays bounded, the overflow is refused with 429", async () => {
  const home = tempHome("crabtalk-wire-unread-");
  homes.push(home);
  writeBigSession(home, 10);
  await using d = await startDaemon({ home, config: PATIENT_CONFIG });
  const before = await settledRssMiB(d.proc.pid);
  const socket = await connectPaused(d.socket);
  const requests = Array.from({ length: 100 }, (_, i) =>
    frame(clientMessage.encode({ getHistory: { session: 1 }, requestId: i + 1 })),
  );
  socket.write(Buffer.concat(requests));
  const after = await settledRssMiB(d.proc.pid, before + UNREAD_MARGIN_MIB);
  console.log(`daemon VmRSS ${before.toFixed(0)} MiB -> ${after.toFixed(0)} MiB with 100 unread history replies`);
  expect(after - before).toBeLessThan(UNREAD_MARGIN_MIB);

  // Every request is answered once the client reads: the few that fit, the rest with a 429 saying why.
  const replies = await readReplies(socket, 100);
  const histories = replies.filter((r) => r.msg === "history");
  const refused = replies.filter((r) => r.msg === "error");
  expect(histories.length).toBeGreaterThanOrEqual(1);
  expect(histories.length).toBeLessThanOrEqual(3);
  expect(histories.length + refused.length).toBe(100);
  expect(histories[0]!.history!.messages.length).toBe(100);
  for (const r of refused) {
    expect(r.error!.code).toBe(429);
    expect(r.error!.message).toContain("has not read");
  }
  expect(new Set(replies.map((r) => r.requestId)).size).toBe(100);
  socket.destroy();
  expect(await pingWorks(d)).toBe(true);
}, 60_000);

/**
 * Margin for the partial-frames case: what may stay is the 64 MiB budget;
 * measured +49 to +68 MiB. Unbounded, 40 such frames pinned +647 MiB.
 */
const PARTIAL_MARGIN_MIB = 160;

test("40 connections each holding a 16 MiB frame minus one byte: the daemon holds at most its 64 MiB budget and closes the rest with 503", async () => {
  await using d = await startDaemon({ config: PATIENT_CONFIG });
  const before = await settledRssMiB(d.proc.pid);
  const body = Buffer.alloc(MAX_FRAME_BYTES - 1, 0x41);
  const header = Buffer.from(lengthPrefix(MAX_FRAME_BYTES));
  const holders: { socket: NetSocket; closed: Promise<void>; isClosed: () => boolean; replies: Buffer[] }[] = [];
  for (let i = 0; i < 40; i++) {
    const socket = netConnect(d.socket);
    socket.on("error", () => {});
    await new Promise((r) => socket.once("connect", r));
    let closed = false;
    const replies: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => replies.push(chunk));
    const closedPromise = new Promise<void>((r) => socket.once("close", () => r()));
    void closedPromise.then(() => (closed = true));
    socket.write(header);
    // Sent in full (or refused) before the next connection starts, so the daemon sees them one by one.
    await Promise.race([new Promise<void>((r) => socket.write(body, () => r())), closedPromise]);
    holders.push({ socket, closed: closedPromise, isClosed: () => closed, replies });
  }
  const after = await settledRssMiB(d.proc.pid, before + PARTIAL_MARGIN_MIB);
  console.log(`daemon VmRSS ${before.toFixed(0)} MiB -> ${after.toFixed(0)} MiB with 40 nearly complete 16 MiB frames`);
  expect(after - before).toBeLessThan(PARTIAL_MARGIN_MIB);

  // The budget holds three such frames (16 MiB + 3 bytes each); every later connection is closed with a reason.
  const refused = holders.filter((h) => h.isClosed());
  expect(refused.length).toBeGreaterThanOrEqual(36);
  const notice = new FrameReader().push(new Uint8Array(Buffer.concat(refused[0]!.replies)));
  const error = serverMessage.decode(notice[0]!).error!;
  expect(error.code).toBe(503);
  expect(error.message).toContain("partly received frames");
  await d.waitLog("partly received frames");
  expect(await pingWorks(d)).toBe(true);

  // Closing the holders gives the budget back: a whole 16 MiB frame is then read and answered.
  for (const h of holders) h.socket.destroy();
  await Promise.all(holders.map((h) => h.closed));
  const whole = Buffer.concat([header, body, Buffer.from([0x41])]);
  const sender = netConnect(d.socket);
  await new Promise((r) => sender.once("connect", r));
  const answer = await new Promise<ServerMessage>((resolve) => {
    const reader = new FrameReader();
    sender.on("data", (chunk: Buffer) => {
      const [f] = reader.push(new Uint8Array(chunk));
      if (f) resolve(serverMessage.decode(f));
    });
    sender.write(whole);
  });
  expect(answer.error!.code).toBe(400); // 16 MiB of 'A' is not a ClientMessage, but it was read whole
  sender.destroy();
}, 60_000);

test("a frame dripped a byte at a time is dropped within client_stall_timeout_ms of its first byte; whole frames sent slowly are served", async () => {
  await using d = await startDaemon({
    config: `${CONFIG}`.replace("tcp = false\n", "tcp = false\nclient_stall_timeout_ms = 1500\n"),
  });
  const ping = (id: number) => frame(clientMessage.encode({ ping: {}, requestId: id }));
  const drip = await rawConnect({ unix: d.socket });
  const steady = await rawConnect({ unix: d.socket });
  const started = Date.now();
  drip.write(lengthPrefix(1000));
  let pongs = 0;
  // Every 300 ms: one more byte of the dripped frame, and one whole ping on the other connection.
  for (let i = 1; i <= 15 && !drip.isClosed(); i++) {
    await Bun.sleep(300);
    drip.write(new Uint8Array([i]));
    steady.write(ping(i));
    if ((await steady.next())?.msg === "pong") pongs++;
  }
  const closedAfter = Date.now() - started;
  expect(drip.isClosed()).toBe(true);
  // The limit plus the sweep interval (a quarter of it) and scheduling slack; the drip would run 300 s.
  expect(closedAfter).toBeLessThan(3500);
  await d.waitLog("half-sent");
  expect(steady.isClosed()).toBe(false);
  expect(pongs).toBeGreaterThanOrEqual(4);
  steady.close();
}, 20_000);

/** A uint64 as protobuf varint bytes, written independently of the codec. */
function varint(value: bigint): number[] {
  const out: number[] = [];
  do {
    const low = Number(value & 0x7fn);
    value >>= 7n;
    out.push(value > 0n ? low | 0x80 : low);
  } while (value > 0n);
  return out;
}

/** The raw bytes of top-level varint field `field` in a protobuf message (its last occurrence). */
function rawVarintField(message: Uint8Array, field: number): number[] | undefined {
  let pos = 0;
  let found: number[] | undefined;
  const readVarint = (): number[] => {
    const start = pos;
    while (message[pos++]! & 0x80);
    return [...message.subarray(start, pos)];
  };
  const toNumber = (bytes: number[]) => bytes.reduce((n, b, i) => n + (b & 0x7f) * 2 ** (7 * i), 0);
  while (pos < message.byteLength) {
    const tag = toNumber(readVarint());
    const wireType = tag % 8;
    if (wireType === 0) {
      const value = readVarint();
      if (Math.floor(tag / 8) === field) found = value;
    } else if (wireType === 2) {
      const length = toNumber(readVarint()); // read before adding: `pos += f()` would add to the old pos
      pos += length;
    } else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else throw new Error(`unexpected wire type ${wireType} in a ServerMessage`);
  }
  return found;
}

test("request ids above 2^53 are echoed byte for byte: 0x123456789abcdef1 and 2^64 - 1", async () => {
  await using d = await startDaemon({ config: CONFIG });
  const conn = await rawConnect({ unix: d.socket });
  const ids = [0x123456789abcdef1n, 2n ** 64n - 1n, 2n ** 53n + 1n];
  // ClientMessage { ping: {} (field 3), request_id (field 100: tag bytes 0xa0 0x06) }, made by hand.
  for (const id of ids) conn.write(frame(new Uint8Array([0x1a, 0x00, 0xa0, 0x06, ...varint(id)])));
  const echoed = new Map<string, number[]>();
  for (let i = 0; i < ids.length; i++) {
    const reply = (await conn.nextFrame())!;
    expect(serverMessage.decode(reply).msg).toBe("pong");
    const raw = rawVarintField(reply, 100)!;
    echoed.set(Buffer.from(raw).toString("hex"), raw);
    expect(ids).toContain(serverMessage.decode(reply).requestId as bigint);
  }
  for (const id of ids) expect(echoed.has(Buffer.from(varint(id)).toString("hex"))).toBe(true);
  conn.close();
});

test("1,100 requests without ids in one write: the 1,025th is refused with 429 and its reason, then the connection closes", async () => {
  await using d = await startDaemon({ config: CONFIG });
  const conn = await rawConnect({ unix: d.socket });
  // All in one write, so they are queued faster than the serial chain runs them: the backlog fills and the
  // daemon answers the one past it with the reason, then closes (until now no test saw that reply).
  const one = frame(clientMessage.encode({ sessions: {} }));
  const burst = new Uint8Array(one.byteLength * 1100);
  for (let i = 0; i < 1100; i++) burst.set(one, i * one.byteLength);
  conn.write(burst);
  let refusal: ServerMessage | undefined;
  for (;;) {
    const reply = await conn.next(10_000);
    if (reply === null) break;
    if (reply.msg === "error") refusal = reply;
  }
  expect(refusal?.error?.code).toBe(429);
  expect(refusal?.error?.message).toContain("too many queued requests (limit 1024)");
  expect(conn.isClosed()).toBe(true);
});
