/**
 * RequestChannel over in-memory linked pipes (and once over a real child
 * process's stdin/stdout), with a JSON codec so nothing here depends on
 * crabtalk.proto: correlation out of order, streams, cancellation,
 * timeouts, the in-flight cap, overflow, unknown replies, and close.
 */
import { expect, test } from "bun:test";
import { linkedPipes, streamPipe, type FramedPipe } from "../../src/transport/pipe.ts";
import {
  type ChannelCodec,
  ChannelFull,
  ChannelOverflow,
  RequestChannel,
  type RequestChannelOptions,
  RequestTimeout,
} from "../../src/transport/request-channel.ts";

interface Msg {
  id?: number;
  op: string;
  n?: number;
  target?: number;
}

const text = new TextEncoder();
const json = {
  encode: (m: Msg) => text.encode(JSON.stringify(m)),
  decode: (f: Uint8Array) => JSON.parse(new TextDecoder().decode(f)) as Msg,
};

const CODEC: ChannelCodec<Msg, Msg> = {
  ...json,
  idOf: (m) => m.id,
  withId: (m, id) => ({ ...m, id }),
  errorOf: (m) => (m.op === "error" ? new Error(`peer error ${m.n}`) : null),
  cancel: (id) => ({ op: "cancel", target: id }),
};

/** The far end of a linked pair: records what it receives, answers when told. */
function peer(pipe: FramedPipe) {
  const received: Msg[] = [];
  const waiters: (() => void)[] = [];
  pipe.receive({
    onFrame(f) {
      received.push(json.decode(f));
      for (const w of waiters.splice(0)) w();
    },
  });
  return {
    received,
    send: (m: Msg) => pipe.send(json.encode(m)),
    async waitFor(count: number): Promise<Msg[]> {
      while (received.length < count) await new Promise<void>((r) => waiters.push(r));
      return received;
    },
  };
}

function setup(options: Partial<RequestChannelOptions<Msg, Msg>> = {}) {
  const [near, far] = linkedPipes();
  const channel = new RequestChannel(near, { codec: CODEC, ...options });
  return { channel, server: peer(far), far };
}

test("replies are matched to their requests by id, whatever order they come in", async () => {
  const { channel, server } = setup();
  const replies = [1, 2, 3].map((n) => channel.request({ op: "square", n }));
  const asked = await server.waitFor(3);
  for (const m of [...asked].reverse()) await server.send({ id: m.id, op: "result", n: m.n! * m.n! });
  expect((await Promise.all(replies)).map((r) => r.n)).toEqual([1, 4, 9]);
  expect(new Set(asked.map((m) => m.id)).size).toBe(3);
  expect(channel.inFlight).toBe(0);
});

test("an error reply rejects with the codec's error", async () => {
  const { channel, server } = setup();
  const reply = channel.request({ op: "fail" });
  const [m] = await server.waitFor(1);
  await server.send({ id: m!.id, op: "error", n: 7 });
  await expect(reply).rejects.toThrow("peer error 7");
});

test("a stream yields until isLast; leaving one early sends the cancel message for its id", async () => {
  const { channel, server } = setup();
  const got: number[] = [];
  const done = (async () => {
    for await (const r of channel.stream({ op: "count" }, { isLast: (r) => r.op === "end" })) got.push(r.n ?? -1);
  })();
  const [first] = await server.waitFor(1);
  for (let n = 1; n <= 3; n++) await server.send({ id: first!.id, op: "tick", n });
  await server.send({ id: first!.id, op: "end", n: 0 });
  await done;
  expect(got).toEqual([1, 2, 3, 0]);
  expect(server.received).toHaveLength(1); // it ended by itself: no cancel

  const early = channel.stream({ op: "forever" });
  const next = early[Symbol.asyncIterator]().next();
  const [, open] = await server.waitFor(2);
  await server.send({ id: open!.id, op: "tick", n: 1 });
  expect((await next).value?.n).toBe(1);
  await early.return(undefined);
  const [, , cancel] = await server.waitFor(3);
  expect(cancel).toMatchObject({ op: "cancel", target: open!.id });
  expect(channel.inFlight).toBe(0);
});

test("aborting a request rejects it with the reason, cancels it at the peer, and its late reply is dropped and counted", async () => {
  const { channel, server } = setup();
  const controller = new AbortController();
  const reply = channel.request({ op: "slow" }, { signal: controller.signal });
  const [asked] = await server.waitFor(1);
  controller.abort(new Error("user pressed Ctrl-C"));
  await expect(reply).rejects.toThrow("user pressed Ctrl-C");
  const [, cancel] = await server.waitFor(2);
  expect(cancel).toMatchObject({ op: "cancel", target: asked!.id });
  await server.send({ id: asked!.id, op: "result", n: 1 });
  await server.send({ id: 999, op: "result", n: 1 });
  await server.send({ id: cancel!.id, op: "ack" }); // the cancel's own acknowledgement is expected, not dropped
  const ping = channel.request({ op: "ping" }); // answered after the three above, so they have all arrived
  const [, , pinged] = await server.waitFor(3);
  await server.send({ id: pinged!.id, op: "pong" });
  await ping;
  expect(channel.droppedReplies).toBe(2);
});

test("a request with no reply within timeoutMs rejects with RequestTimeout and is cancelled", async () => {
  const { channel, server } = setup({ defaultTimeoutMs: 50 });
  const started = Date.now();
  await expect(channel.request({ op: "never" })).rejects.toBeInstanceOf(RequestTimeout);
  expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  const [asked, cancel] = await server.waitFor(2);
  expect(cancel).toMatchObject({ op: "cancel", target: asked!.id });
  await expect(channel.request({ op: "never" }, { timeoutMs: 10 })).rejects.toThrow("no reply within 10 ms");
});

test("past maxInFlight a request is refused with ChannelFull; a finished one frees its slot", async () => {
  const { channel, server } = setup({ maxInFlight: 2 });
  const a = channel.request({ op: "a" });
  const b = channel.request({ op: "b" });
  await expect(channel.request({ op: "c" })).rejects.toBeInstanceOf(ChannelFull);
  await expect(channel.request({ op: "c" })).rejects.toThrow("2 requests are already in flight");
  const [ma] = await server.waitFor(2);
  await server.send({ id: ma!.id, op: "result", n: 1 });
  await a;
  const c = channel.request({ op: "c" });
  const [, mb, mc] = await server.waitFor(3);
  await server.send({ id: mb!.id, op: "result" });
  await server.send({ id: mc!.id, op: "result" });
  await Promise.all([b, c]);
});

test("a stream whose reader falls maxBufferedReplies behind fails with ChannelOverflow and is cancelled", async () => {
  const { channel, server } = setup({ maxBufferedReplies: 3 });
  const stream = channel.stream({ op: "flood" });
  const it = stream[Symbol.asyncIterator]();
  const first = it.next();
  const [asked] = await server.waitFor(1);
  for (let n = 1; n <= 6; n++) await server.send({ id: asked!.id, op: "tick", n });
  expect((await first).value?.n).toBe(1);
  const [, cancel] = await server.waitFor(2);
  expect(cancel).toMatchObject({ op: "cancel", target: asked!.id });
  const rest: number[] = [];
  const error = await (async () => {
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) return null;
        rest.push(r.value.n!);
      }
    } catch (err) {
      return err;
    }
  })();
  expect(error).toBeInstanceOf(ChannelOverflow);
  expect(rest.length).toBeLessThanOrEqual(3);
});

test("replies for unknown ids and frames that do not decode are dropped and counted", async () => {
  const { channel, server, far } = setup();
  const reply = channel.request({ op: "ping" });
  const [asked] = await server.waitFor(1);
  await server.send({ id: 4242, op: "stray" });
  await far.send(text.encode("not json"));
  await server.send({ id: asked!.id, op: "pong" });
  expect((await reply).op).toBe("pong");
  expect(channel.droppedReplies).toBe(1);
  expect(channel.undecodableFrames).toBe(1);
});

test("an unsolicited reply the owner calls an error fails every pending request", async () => {
  const { channel, server } = setup({
    onUnsolicited: (m) => (m.op === "refused" ? new Error("the daemon refused this connection") : undefined),
  });
  const pending = [channel.request({ op: "a" }), channel.request({ op: "b" })];
  await server.waitFor(2);
  await server.send({ op: "refused" });
  for (const p of pending) await expect(p).rejects.toThrow("refused this connection");
});

test("when the pipe closes, pending requests and streams fail with the close reason, and new ones are refused", async () => {
  const { channel, server, far } = setup({ closedError: (reason) => new Error(`peer went away (${reason?.message})`) });
  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (err: Error) => err.message,
    );
  const reply = outcome(channel.request({ op: "a" }));
  const stream = outcome(
    (async () => {
      for await (const _ of channel.stream({ op: "b" })) void _;
    })(),
  );
  await server.waitFor(2);
  far.close();
  expect(await reply).toBe("peer went away (the other end closed)");
  expect(await stream).toBe("peer went away (the other end closed)");
  expect(channel.isClosed).toBe(true);
  await expect(channel.request({ op: "c" })).rejects.toThrow("peer went away");
  expect(channel.inFlight).toBe(0);
});

test("over a child process's stdin/stdout: `cat` echoes each request, which is its own reply", async () => {
  const child = Bun.spawn(["cat"], { stdin: "pipe", stdout: "pipe", stderr: "ignore" });
  const channel = new RequestChannel(streamPipe(child.stdout, child.stdin), {
    codec: { ...CODEC, cancel: undefined },
    defaultTimeoutMs: 5000,
  });
  const replies = await Promise.all([1, 2, 3].map((n) => channel.request({ op: "echo", n })));
  expect(replies.map((r) => r.n)).toEqual([1, 2, 3]);
  expect(replies.map((r) => r.id)).toEqual([1, 2, 3]);
  child.kill();
  await child.exited;
  await expect(channel.request({ op: "echo" })).rejects.toThrow();
  channel.close();
});
