/**
 * Fuzzed frames: more than 10,000 malformed frames in eight families
 * (random payloads, valid envelopes with wrong wire types, deep nesting of
 * submessages and groups, random request ids, empty frames, truncated
 * frames, unframed random bytes, lengths at and over the 16 MiB cap). The
 * daemon must stay up, and every connection must end in one of two clean
 * ways: it answers (a marker ping sent after the bad frames comes back, so
 * the stream is still in sync) or it closes. Truncated frames leave the
 * daemon waiting for the rest, which is right; once the client hangs up,
 * the daemon must close its side. Afterwards a normal client pings and
 * runs a real turn. The bytes are seeded (RELIABILITY_SEED) for replay.
 */
import { rmSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { clientMessage, serverMessage } from "../../src/protocol/codec.ts";
import { tempHome } from "../../test/helpers/daemon.ts";
import { FakeProvider, sseReply } from "../../test/helpers/fake-provider.ts";
import { frame, lengthPrefix } from "../../test/helpers/raw-socket.ts";
import { openaiSse } from "../../test/helpers/sse-builders.ts";
import {
  alive,
  mb,
  reliabilityConfig,
  rssMb,
  runTurn,
  settledRss,
  startQuietDaemon,
  type Row,
  type ScenarioOptions,
} from "./common.ts";
import { FrameReader } from "../../src/transport/framing.ts";

const MAX = 16 * 1024 * 1024;
/** Marker pings carry ids above any the fuzzer picks, so their pongs are unambiguous. */
const MARKER_BASE = 2 ** 40;

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

class Bytes {
  constructor(private readonly random: () => number) {}
  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  some(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** Minimal protobuf writer: enough to build envelopes a real encoder never would. */
function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
const tag = (field: number, wire: number): number[] => varint((field << 3) | wire);
const ld = (field: number, body: Uint8Array | number[]): number[] => [
  ...tag(field, 2),
  ...varint(body.length),
  ...body,
];

/** Known ClientMessage fields (requests 1..31, request_id 100) with the wrong wire type or a lying length. */
function wrongWireType(b: Bytes): Uint8Array {
  const fields = [1, 2, 3, 5, 6, 14, 22, 23, 24, 25, 26, 27, 28, 30, 31, 100];
  const out: number[] = [];
  const parts = 1 + b.int(3);
  for (let i = 0; i < parts; i++) {
    const f = fields[b.int(fields.length)]!;
    switch (b.int(6)) {
      case 0: // a request (a submessage) as a varint
        out.push(...tag(f, 0), ...varint(b.int(2 ** 31)));
        break;
      case 1: // fixed64 / fixed32 where a message or varint belongs
        out.push(...tag(f, 1), ...b.some(8));
        break;
      case 2:
        out.push(...tag(f, 5), ...b.some(4));
        break;
      case 3: // request_id (uint64) as a length-delimited field
        out.push(...ld(100, b.some(b.int(20))));
        break;
      case 4: // a submessage whose inner field has the wrong type: StreamMsg.content (string) as fixed64
        out.push(...ld(f, [...tag(2, 1), ...b.some(8)]));
        break;
      default: // a length that runs past the end of the frame
        out.push(...tag(f, 2), ...varint(1000 + b.int(1_000_000)), ...b.some(b.int(16)));
    }
  }
  return Uint8Array.from(out);
}

/** Submessages nested `depth` deep (built inside out), or runs of start-group tags with or without their ends. */
function deepNesting(b: Bytes): Uint8Array {
  const depth = 100 + b.int(5000);
  if (b.int(2) === 0) {
    let inner: number[] = [...tag(1, 2), 0];
    for (let i = 0; i < depth; i++) inner = ld(b.int(2) === 0 ? 2 : 1, inner);
    return Uint8Array.from(inner);
  }
  const f = 1 + b.int(30);
  const out: number[] = [];
  for (let i = 0; i < depth; i++) out.push(...tag(f, 3));
  if (b.int(2) === 0) for (let i = 0; i < depth; i++) out.push(...tag(f, 4));
  return Uint8Array.from(out);
}

/** Real requests with random ids (0, huge, repeated), many of them requests the daemon refuses. */
function randomIds(b: Bytes): Uint8Array {
  const id = [0, 1, 2 ** 32 - 1, 2 ** 53 - 1, b.int(1000), b.int(2 ** 31)][b.int(6)]!;
  const body = [
    { ping: {} },
    { getHistory: { session: b.int(50) } },
    { attach: { session: b.int(50), afterSeq: b.int(10) } },
    { cancel: { session: b.int(50) } },
    { unsubscribe: { requestId: b.int(1000) } },
    { approve: { callId: "nope", response: "allow" } },
    { stream: { agent: "no-such-agent", content: "x" } },
    { hub: { package: "x", action: 0, filters: [] } },
  ][b.int(8)]!;
  return clientMessage.encode({ ...body, requestId: id } as Parameters<typeof clientMessage.encode>[0]);
}

type Outcome = "answered" | "closed" | "stuck";

interface Conn {
  sock: Socket;
  closed: Promise<void>;
  isClosed(): boolean;
  pongs: Set<number>;
  replies: number;
}

async function open(path: string): Promise<Conn> {
  const sock = netConnect(path);
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  });
  let closed = false;
  const c: Conn = {
    sock,
    closed: new Promise((r) =>
      sock.once("close", () => {
        closed = true;
        r();
      }),
    ),
    isClosed: () => closed,
    pongs: new Set(),
    replies: 0,
  };
  const reader = new FrameReader();
  sock.on("error", () => {});
  sock.on("data", (chunk: Buffer) => {
    for (const f of reader.push(new Uint8Array(chunk))) {
      c.replies++;
      const m = serverMessage.decode(f);
      if (m.pong && m.requestId) c.pongs.add(Number(m.requestId));
    }
  });
  return c;
}

/** Sends `bytes`, then (when the stream should still be in sync) a marker ping; waits for its pong or a close. */
async function probe(path: string, chunks: Uint8Array[], marker: number | undefined, waitMs: number): Promise<Outcome> {
  const c = await open(path);
  for (const ch of chunks) c.sock.write(ch);
  if (marker !== undefined) c.sock.write(frame(clientMessage.encode({ ping: {}, requestId: marker })));
  else c.sock.end(); // truncated or unframed: hang up, the daemon must close its side
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (marker !== undefined && c.pongs.has(marker)) break;
    if (c.isClosed()) break;
    await Bun.sleep(5);
  }
  const outcome: Outcome = marker !== undefined && c.pongs.has(marker) ? "answered" : c.isClosed() ? "closed" : "stuck";
  c.sock.destroy();
  return outcome;
}

export async function fuzzScenario(opts: ScenarioOptions): Promise<Row[]> {
  const seed = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000);
  const b = new Bytes(prng(seed));
  await using fake = await FakeProvider.start();
  fake.route(() => sseReply(openaiSse({ model: "fake-model", text: "still here", textDeltas: 3 })));
  const home = tempHome("crabtalk-rel-fuzz-");
  await using d = await startQuietDaemon({ home, config: reliabilityConfig(fake.url) });
  const pid = d.proc.pid;
  const rssBefore = await settledRss(pid, 3);
  let peak = rssBefore;
  let marker = MARKER_BASE;
  const tally = new Map<string, { frames: number; conns: number; answered: number; closed: number; stuck: number }>();
  let frames = 0;
  const record = (family: string, n: number, o: Outcome) => {
    const t = tally.get(family) ?? { frames: 0, conns: 0, answered: 0, closed: 0, stuck: 0 };
    t.frames += n;
    t.conns++;
    t[o]++;
    tally.set(family, t);
    frames += n;
  };
  const batch = async (family: string, count: number, perConn: number, make: () => Uint8Array) => {
    for (let sent = 0; sent < count && alive(d); sent += perConn) {
      const n = Math.min(perConn, count - sent);
      const chunks = Array.from({ length: n }, () => frame(make()));
      record(family, n, await probe(d.socket, chunks, ++marker, 10_000));
      peak = Math.max(peak, rssMb(pid));
    }
  };
  try {
    await batch("random payload", 5000, 100, () => b.some(1 + b.int(512)));
    await batch("wrong wire types", 2000, 100, () => wrongWireType(b));
    await batch("deep nesting", 600, 20, () => deepNesting(b));
    await batch("random request ids", 2000, 100, () => randomIds(b));
    await batch("empty frame", 200, 50, () => new Uint8Array(0));
    opts.log(`framed families done: ${frames} frames`);
    for (let i = 0; i < 300 && alive(d); i++) {
      // Truncated: a header promising more than follows, then hang up.
      const want = 1 + b.int(4096);
      record("truncated frame", 1, await probe(d.socket, [lengthPrefix(want), b.some(b.int(want))], undefined, 5000));
    }
    for (let i = 0; i < 300 && alive(d); i++) {
      record("unframed bytes", 1, await probe(d.socket, [b.some(1 + b.int(64))], undefined, 5000));
    }
    // At the cap: a 16 MiB payload of garbage is read and refused; over it: refused from the header and closed.
    const atCap = b.some(MAX);
    for (let i = 0; i < 3 && alive(d); i++) {
      record("length at 16 MiB", 1, await probe(d.socket, [lengthPrefix(MAX), atCap], ++marker, 20_000));
      peak = Math.max(peak, rssMb(pid));
    }
    for (const len of [
      MAX + 1,
      MAX + 4096,
      2 ** 31,
      2 ** 32 - 1,
      MAX * 2,
      MAX + 1,
      2 ** 32 - 2,
      2 ** 30,
      MAX + 7,
      2 ** 28,
    ]) {
      if (!alive(d)) break;
      record("length over 16 MiB", 1, await probe(d.socket, [lengthPrefix(len), b.some(64)], ++marker, 5000));
    }
    opts.log(`seed ${seed}: ${frames} frames sent`);
    for (const [family, t] of tally)
      opts.log(
        `${family}: ${t.frames} frames on ${t.conns} connections: ${t.answered} answered, ${t.closed} closed, ${t.stuck} stuck`,
      );

    // A normal client afterwards.
    const c = await d.client();
    const pong = await c.request({ ping: {} }).catch(() => undefined);
    const turn = await runTurn(c, { content: "hello after the fuzz" }, 15_000);
    c.close();
    const rssAfter = await settledRss(pid, 3);
    const stuck = [...tally.values()].reduce((n, t) => n + t.stuck, 0);
    const conns = [...tally.values()].reduce((n, t) => n + t.conns, 0);
    const overClosed = tally.get("length over 16 MiB")?.closed ?? 0;
    return [
      {
        scenario: "fuzz",
        check: "malformed frames sent, daemon never crashed",
        figure: `${frames} frames on ${conns} connections, seed ${seed}`,
        pass: frames >= 10_000 && alive(d),
      },
      {
        scenario: "fuzz",
        check: "every connection answered or closed cleanly",
        figure: `${conns - stuck} of ${conns} (${stuck} stuck)`,
        pass: stuck === 0,
      },
      {
        scenario: "fuzz",
        check: "lengths over the cap refused and closed",
        figure: `${overClosed} of ${tally.get("length over 16 MiB")?.conns ?? 0}`,
        pass: overClosed === (tally.get("length over 16 MiB")?.conns ?? -1),
      },
      {
        scenario: "fuzz",
        check: "normal client after: ping + real turn",
        figure: `${pong?.pong ? "pong" : "no pong"}, turn ${turn.end?.stopReason ?? turn.error?.message ?? turn.hung}`,
        pass: !!pong?.pong && turn.end?.stopReason === "stop" && turn.text === "still here",
      },
      {
        scenario: "fuzz",
        check: "daemon RSS before / peak / after",
        figure: `${mb(rssBefore)} / ${mb(peak)} / ${mb(rssAfter)}`,
        pass: rssAfter < rssBefore + 100,
      },
    ];
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
