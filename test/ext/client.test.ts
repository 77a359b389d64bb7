/**
 * ExtClient (src/ext/client.ts) against a scripted peer over in-memory
 * pipes: multiplexed replies matched by id in any order and a late reply
 * dropped; a peer that never echoes ids served one call at a time, with a
 * timeout reported as a desync and later calls refused; an inference under
 * the id of the call being handled; an undecodable frame reported.
 */
import { describe, expect, test } from "bun:test";
import { ExtClient, ServiceError, ServiceTimeout, ServiceUnavailable } from "../../src/ext/client.ts";
import { extRequest, extResponse, type Init } from "../../src/protocol/codec.ts";
import type { ExtRequest, ExtResponse } from "../../src/protocol/gen/ext.ts";
import { type FramedPipe, linkedPipes } from "../../src/transport/pipe.ts";

interface Peer {
  requests: ExtRequest[];
  send(reply: Init<ExtResponse>): void;
  raw: FramedPipe;
}

function setup(onRequest: (req: ExtRequest, peer: Peer) => void) {
  const [ours, theirs] = linkedPipes();
  const events = {
    infer: [] as { agent: string | undefined; text: string }[],
    violations: [] as string[],
    desyncs: [] as string[],
  };
  const peer: Peer = {
    requests: [],
    send: (reply) => void theirs.send(extResponse.encode(reply)),
    raw: theirs,
  };
  theirs.receive({
    onFrame: (frame) => {
      const req = extRequest.decode(frame);
      peer.requests.push(req);
      onRequest(req, peer);
    },
  });
  const client = new ExtClient(ours, {
    service: "t",
    onInfer: async (messages, agent) => {
      events.infer.push({ agent, text: messages[0]!.content });
      return `answer to ${messages[0]!.content}`;
    },
    onViolation: (why) => events.violations.push(why),
    onDesync: (why) => events.desyncs.push(why),
  });
  return { client, peer, events };
}

const hello = { hello: { version: "1" } };

describe("multiplexed", () => {
  test("replies in any order reach their calls; a late reply is dropped; ExtError rejects", async () => {
    const held: { id: number; q: string }[] = [];
    const { client, peer } = setup((req, p) => {
      const id = Number(req.requestId);
      if (req.hello) p.send({ ready: { service: "t" }, requestId: id });
      else if (req.serviceQuery) held.push({ id, q: req.serviceQuery.query });
    });
    await client.call(hello, { timeoutMs: 1000 });
    expect(client.oneAtATime).toBe(false);
    const a = client.call({ serviceQuery: { query: "a" } }, { timeoutMs: 1000 });
    const b = client.call({ serviceQuery: { query: "b" } }, { timeoutMs: 1000 });
    await Bun.sleep(5);
    for (const h of [...held].reverse()) peer.send({ serviceQueryResult: { result: h.q }, requestId: h.id });
    expect((await a).serviceQueryResult?.result).toBe("a");
    expect((await b).serviceQueryResult?.result).toBe("b");
    held.length = 0;
    await expect(client.call({ serviceQuery: { query: "late" } }, { timeoutMs: 30 })).rejects.toBeInstanceOf(
      ServiceTimeout,
    );
    const next = client.call({ serviceQuery: { query: "next" } }, { timeoutMs: 1000 });
    await Bun.sleep(5);
    for (const h of held) peer.send({ serviceQueryResult: { result: h.q }, requestId: h.id });
    expect((await next).serviceQueryResult?.result).toBe("next");
    // A reply with no id from a multiplexed peer belongs to nothing: dropped, it fails no call.
    peer.send({ error: { message: "nope" }, requestId: 0 });
    const failing = client.call({ serviceQuery: { query: "x" } }, { timeoutMs: 1000 });
    await Bun.sleep(5);
    peer.send({ error: { message: "refused" }, requestId: Number(peer.requests.at(-1)!.requestId) });
    await expect(failing).rejects.toBeInstanceOf(ServiceError);
  });

  test("an inference request under the call's id is answered with the same id; the call then completes", async () => {
    const { client, events } = setup((req, p) => {
      const id = Number(req.requestId);
      if (req.hello) p.send({ ready: {}, requestId: id });
      if (req.toolCall) p.send({ inferRequest: { messages: [{ role: "user", content: "q?" }] }, requestId: id });
      if (req.inferResult) p.send({ toolResult: { result: `got ${req.inferResult.content}` }, requestId: id });
    });
    await client.call(hello, { timeoutMs: 1000 });
    const r = await client.call({ toolCall: { name: "x", args: "{}" } }, { timeoutMs: 1000, agent: "crab" });
    expect(r.toolResult?.result).toBe("got answer to q?");
    expect(events.infer).toEqual([{ agent: "crab", text: "q?" }]);
  });

  test("a frame that is not an ExtResponse is reported; the peer closing fails calls in flight at once", async () => {
    const { client, peer, events } = setup((req, p) => {
      if (req.hello) p.send({ ready: {}, requestId: Number(req.requestId) });
    });
    await client.call(hello, { timeoutMs: 1000 });
    void peer.raw.send(new Uint8Array([0xff, 0xff, 0xff]));
    await Bun.sleep(5);
    expect(events.violations[0]).toContain("not an ExtResponse");
    const pending = client.call({ serviceQuery: { query: "q" } }, { timeoutMs: 10_000 });
    peer.raw.close();
    await expect(pending).rejects.toBeInstanceOf(ServiceUnavailable);
  });
});

describe("one at a time (a peer that never echoes ids)", () => {
  test("calls are queued and matched in order; a timeout desyncs and later calls are refused", async () => {
    let inFlight = 0;
    let most = 0;
    const { client, events } = setup((req, p) => {
      inFlight++;
      most = Math.max(most, inFlight);
      const answer = (m: Init<ExtResponse>) =>
        setTimeout(() => {
          inFlight--;
          p.send(m);
        }, 5);
      if (req.hello) answer({ ready: {} });
      else if (req.serviceQuery?.query === "hang") inFlight--;
      else if (req.serviceQuery) answer({ serviceQueryResult: { result: req.serviceQuery.query } });
    });
    await client.call(hello, { timeoutMs: 1000 });
    expect(client.oneAtATime).toBe(true);
    const results = await Promise.all(
      ["1", "2", "3"].map((q) => client.call({ serviceQuery: { query: q } }, { timeoutMs: 1000 })),
    );
    expect(results.map((r) => r.serviceQueryResult?.result)).toEqual(["1", "2", "3"]);
    expect(most).toBe(1);
    await expect(client.call({ serviceQuery: { query: "hang" } }, { timeoutMs: 30 })).rejects.toBeInstanceOf(
      ServiceTimeout,
    );
    expect(events.desyncs).toHaveLength(1);
    await expect(client.call({ serviceQuery: { query: "after" } }, { timeoutMs: 1000 })).rejects.toBeInstanceOf(
      ServiceUnavailable,
    );
  });
});
