/**
 * End-to-end tests of live attach (issue 8) against the compiled binary:
 * numbered events, replay of what a client missed from the trace, and many
 * clients on one session. The model is a real local HTTP server whose
 * replies are held at gates the test releases, so "mid-turn" is a fact of
 * the test, not a timing guess. Every comparison is on whole decoded
 * StreamEvents (seq, session, timestamp, payload), not only on counts.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { CrabtalkClient } from "../../src/client/client.ts";
import type { Attached, ServerMessage, StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, gate, sseReply, type Gate, type Reply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";

// Two daemon starts and gated turns: generous for shared, loaded CI cores.
setDefaultTimeout(60_000);

const config = (url: string) =>
  `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`;

/** An SSE turn cut into stages: stage i+1 is sent only after gates[i] is released. */
function staged(text: string, deltas: number, gates: Gate[]): Reply {
  const events = openaiSse({ text, textDeltas: deltas })
    .split("\n\n")
    .filter((e) => e.length > 0);
  const per = Math.ceil(events.length / (gates.length + 1));
  return {
    kind: "generate",
    chunks: async function* () {
      for (let i = 0; i < events.length; i++) {
        if (i > 0 && i % per === 0) await gates[i / per - 1]!.promise;
        yield `${events[i]}\n\n`;
      }
    },
  };
}

/** A collector that reads a stream in the background; `until` waits for a condition on what it has. */
class Reader {
  readonly events: StreamEvent[] = [];
  /** The attach stream's first reply: where replay ends and live begins. */
  attached: Attached | undefined;
  error: unknown;
  readonly done: Promise<void>;
  private wake: (() => void)[] = [];

  constructor(
    stream: AsyncIterable<ServerMessage>,
    stopAt: (e: StreamEvent, all: StreamEvent[]) => boolean = () => false,
  ) {
    this.done = (async () => {
      try {
        for await (const reply of stream) {
          if (reply.attached) {
            this.attached = reply.attached;
            for (const w of this.wake.splice(0)) w();
          }
          if (!reply.stream) continue;
          this.events.push(reply.stream);
          for (const w of this.wake.splice(0)) w();
          if (stopAt(reply.stream, this.events)) break;
        }
      } catch (err) {
        this.error = err;
      } finally {
        for (const w of this.wake.splice(0)) w();
      }
    })();
  }

  async until(cond: (all: StreamEvent[]) => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond(this.events)) {
      if (Date.now() > deadline)
        throw new Error(
          `condition not met in ${timeoutMs} ms; have ${this.events.length} events, last seq ${this.lastSeq}`,
        );
      await Promise.race([new Promise<void>((r) => this.wake.push(r)), Bun.sleep(50)]);
    }
  }

  get lastSeq(): number {
    return this.events.at(-1)?.seq ?? 0;
  }
}

const ends = (n: number) => (_e: StreamEvent, all: StreamEvent[]) => all.filter((x) => x.event === "end").length >= n;
const json = (events: StreamEvent[]) => events.map((e) => JSON.stringify(e));

function expectConsecutive(events: StreamEvent[], from: number, to: number): void {
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: to - from + 1 }, (_, i) => from + i));
}

/** Runs one whole turn from its own client and returns its events (start to end). */
async function turn(d: DaemonHandle, content: string, session?: number): Promise<StreamEvent[]> {
  const c = await d.client();
  try {
    const out: StreamEvent[] = [];
    for await (const r of c.stream({ stream: { agent: session ? "" : "crab", content, session } }))
      if (r.stream) out.push(r.stream);
    return out;
  } finally {
    c.close();
  }
}

const attach = (c: CrabtalkClient, session: number, afterSeq?: number) =>
  c.stream({ attach: afterSeq === undefined ? { session } : { session, afterSeq } });

describe("live attach", () => {
  let fake: FakeProvider;
  let d: DaemonHandle;
  const clients: CrabtalkClient[] = [];
  const client = async () => {
    const c = await d.client();
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    fake = await FakeProvider.start();
    fake.route(() => sseReply(openaiSse({ text: "default answer", textDeltas: 4 })));
    d = await startDaemon({ config: config(fake.url) });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await d.cleanup();
    await fake.stop();
  });

  test("a second client attaching mid-turn receives exactly the first client's events from the attach point on", async () => {
    const g = gate();
    fake.enqueue(staged("the quick brown fox jumps over the lazy dog, twice over", 30, [g]));
    const a = new Reader((await client()).stream({ stream: { agent: "crab", content: "go" } }));
    await a.until((all) => all.filter((e) => e.event === "chunk").length >= 5);
    const session = a.events[0]!.session;
    // Attached right after deltas arrived: they are still in the trace writer's batch, so this also proves the flush at the seam.
    const mid = a.lastSeq;
    const replaying = new Reader(attach(await client(), session, mid), ends(1));
    const liveOnly = new Reader(attach(await client(), session), ends(1));
    // The Attached marker is sent once the subscription is in place: after it, nothing live can be missed.
    await liveOnly.until(() => liveOnly.attached !== undefined);
    await replaying.until(() => replaying.attached !== undefined);
    expect(liveOnly.attached!.runningTurn).toBe(a.events[0]!.seq);
    expect(liveOnly.attached!.lastSeq).toBeGreaterThanOrEqual(mid);
    expect(replaying.attached!.session).toBe(session);
    const atGate = a.lastSeq;
    g.release();
    await Promise.all([a.done, replaying.done, liveOnly.done]);
    expect(a.error).toBeUndefined();
    expect(replaying.error).toBeUndefined();
    expect(liveOnly.error).toBeUndefined();
    expect(a.events.at(-1)!.event).toBe("end");
    expectConsecutive(a.events, a.events[0]!.seq, a.lastSeq);
    expect(json(replaying.events)).toEqual(json(a.events.filter((e) => e.seq > mid)));
    // Live-only starts wherever its subscription landed, but before the gate opened, and from there on is identical.
    const first = liveOnly.events[0]!.seq;
    expect(first).toBeLessThanOrEqual(atGate + 1);
    expect(atGate).toBeLessThan(a.lastSeq - 5);
    expect(json(liveOnly.events)).toEqual(json(a.events.filter((e) => e.seq >= first)));
  });

  test("a client that disconnects mid-turn and re-attaches with its last seq ends with the complete sequence", async () => {
    const first = await turn(d, "first turn");
    const session = first[0]!.session;
    const [g1, g2] = [gate(), gate()];
    fake.enqueue(staged("a long answer that arrives in three parts while a client comes and goes", 45, [g1, g2]));
    const whole = new Reader(attach(await client(), session, 0), ends(2));
    const dropper = await d.client();
    const before = new Reader(attach(dropper, session, 0));
    const sender = new Reader((await client()).stream({ stream: { content: "second turn", session } }));
    await before.until(
      (all) => all.filter((e) => e.event === "chunk").length >= first.filter((e) => e.event === "chunk").length + 3,
    );
    dropper.close(); // gone mid-turn, without a goodbye
    await before.done;
    g1.release(); // the turn runs on while it is away
    await sender.until((all) => all.filter((e) => e.event === "chunk").length >= 25);
    const back = new Reader(attach(await client(), session, before.lastSeq), ends(1));
    await Bun.sleep(100);
    g2.release(); // and ends after it came back: replay, then live, across the seam
    await Promise.all([whole.done, back.done, sender.done]);
    const rejoined = [...before.events, ...back.events];
    expect(before.lastSeq).toBeGreaterThan(first.at(-1)!.seq);
    expect(back.events.length).toBeGreaterThan(0);
    expectConsecutive(rejoined, 1, sender.lastSeq);
    expect(json(rejoined)).toEqual(json(whole.events));
    expect(json(whole.events)).toEqual(json([...first, ...sender.events]));
  });

  test("three attached clients and the sender see the same events", async () => {
    const first = await turn(d, "make a session");
    const session = first[0]!.session;
    const g = gate();
    fake.enqueue(staged("everyone sees this answer the same way", 20, [g]));
    const watchers = await Promise.all(
      [0, 1, 2].map(async () => new Reader(attach(await client(), session, first.at(-1)!.seq), ends(1))),
    );
    const sender = new Reader((await client()).stream({ stream: { content: "for all to see", session } }));
    await sender.until((all) => all.length >= 3);
    g.release();
    await Promise.all([sender.done, ...watchers.map((w) => w.done)]);
    expect(sender.events.at(-1)!.event).toBe("end");
    expectConsecutive(sender.events, first.at(-1)!.seq + 1, sender.lastSeq);
    for (const w of watchers) expect(json(w.events)).toEqual(json(sender.events));
  });

  test("another client may continue a session; turns sent at once queue and never interleave", async () => {
    const first = await turn(d, "started by one client");
    const session = first[0]!.session;
    const g = gate();
    fake.enqueue(
      staged("turn two takes a while to finish", 20, [g]),
      sseReply(openaiSse({ text: "turn three answer", textDeltas: 5 })),
    );
    const watcher = new Reader(attach(await client(), session, 0), ends(3));
    const [b, c] = [await client(), await client()];
    const two = new Reader(b.stream({ stream: { content: "turn two from B", session } }));
    const three = new Reader(c.stream({ stream: { content: "turn three from C", session } }));
    await two.until((all) => all.length >= 2);
    await Bun.sleep(200); // turn three is queued behind the gate; it must not start
    expect(three.events.length).toBe(0);
    g.release();
    await Promise.all([two.done, three.done, watcher.done]);
    expect(two.error ?? three.error).toBeUndefined();
    expect(two.events.at(-1)!.event).toBe("end");
    expect(three.events.at(-1)!.event).toBe("end");
    // All of turn two precedes turn three's start.
    expect(three.events[0]!.event).toBe("start");
    expect(three.events[0]!.seq).toBe(two.lastSeq + 1);
    expectConsecutive(watcher.events, 1, three.lastSeq);
    expect(json(watcher.events)).toEqual(json([...first, ...two.events, ...three.events]));
    // Turn three's model call saw turn two's answer: it ran after, on the same history.
    const last = fake.requests.at(-1)!.body as { messages: { role: string; content: unknown }[] };
    const texts = last.messages.map((m) => JSON.stringify(m.content));
    expect(texts.some((t) => t.includes("turn two takes a while"))).toBe(true);
    expect(texts.some((t) => t.includes("turn two from B"))).toBe(true);
  });

  test("attach to an unknown session is a 404; after_seq past the end yields only newer events", async () => {
    const c = await client();
    await expect(c.request({ attach: { session: 999_999, afterSeq: 0 } })).rejects.toThrow(/not found/);
    const first = await turn(d, "short");
    const session = first[0]!.session;
    const ahead = new Reader(attach(c, session, first.at(-1)!.seq + 1000), ends(1));
    const next = await turn(d, "next", session);
    await Bun.sleep(300);
    expect(ahead.events.filter((e) => e.seq <= first.at(-1)!.seq + 1000)).toEqual([]);
    expect(next.at(-1)!.event).toBe("end");
  });
});

describe("replay across a daemon restart", () => {
  test("a client re-attaches with its last seq after a restart and ends with the complete sequence", async () => {
    await using fake = await FakeProvider.start();
    fake.route(() => sseReply(openaiSse({ text: "answer from before or after a restart", textDeltas: 12 })));
    const home = tempHome();
    let d = await startDaemon({ config: config(fake.url), home });
    try {
      const first = await turn(d, "turn before the restart");
      const session = first[0]!.session;
      const follower = await d.client();
      const before = new Reader(attach(follower, session, 0));
      await before.until((all) => all.length === first.length);
      expect(await d.stop()).toBe(0);
      await before.done; // the restart cut it off
      d = await startDaemon({ config: config(fake.url), home });
      // Re-attach while the session is only on disk, before the next turn loads it.
      const c = await d.client();
      const after = new Reader(attach(c, session, before.lastSeq), ends(1));
      await Bun.sleep(200);
      const second = await turn(d, "turn after the restart", session);
      await after.done;
      const rejoined = [...before.events, ...after.events];
      expectConsecutive(rejoined, 1, second.at(-1)!.seq);
      expect(json(rejoined)).toEqual(json([...first, ...second]));
      // A newcomer replays both turns from the trace on disk.
      const c2 = await d.client();
      const all = new Reader(attach(c2, session, 0), ends(2));
      await all.done;
      expect(json(all.events)).toEqual(json(rejoined));
      c.close();
      c2.close();
    } finally {
      await d.cleanup();
      require("node:fs").rmSync(home, { recursive: true, force: true });
    }
  });
});
