/**
 * Big answers through the compiled binary: three clients each stream a
 * 4 MB answer at once from the fake provider (32,768 deltas of 128
 * characters). Every client must receive its text byte for byte (length
 * and SHA-256 of the deltas against what the provider sent, every delta as
 * its own event, since these readers keep up), and the session file must
 * hold the whole answer as one message line (written apart from the
 * batch's other lines since it is over 1 MiB); the next turn on that
 * session, whose history the daemon released once idle, sends the model
 * the whole answer again, read back from disk.
 *
 * Memory is measured by bench/big-streams.ts, not here: at this size the
 * garbage collector's slack (~100 MB either way) hides the difference
 * between the old pipeline and the new one, so a margin would catch nothing.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";
import { contentText, floodSse, lastUserText, messagesOf, turnConfig } from "../helpers/turn-kit.ts";

setDefaultTimeout(120_000);

const STREAMS = 3;
const DELTAS = 32_768;
const SIZE = 128;

/** The text floodSse(DELTAS, SIZE) sends, one delta at a time. */
function expected(): { hash: string; length: number } {
  const h = createHash("sha256");
  let length = 0;
  for (let i = 0; i < DELTAS; i++) {
    const label = `#${i}:`;
    const d = label + "x".repeat(SIZE - label.length);
    h.update(d);
    length += d.length;
  }
  return { hash: h.digest("hex"), length };
}

let fake: FakeProvider;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await FakeProvider.start();
  // Paced (200 deltas per write, 10 ms apart) so that this process's own readers keep up beside the provider.
  fake.route((req) =>
    lastUserText(req) === "warm" || lastUserText(req) === "next"
      ? { kind: "generate", chunks: () => floodSse(4, 8) }
      : { kind: "generate", chunks: () => floodSse(DELTAS, SIZE, 200), chunkDelayMs: 10 },
  );
  d = await startDaemon({ config: turnConfig(fake.url) });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

async function read(c: CrabtalkClient, content: string) {
  const h = createHash("sha256");
  let length = 0;
  let chunks = 0;
  let session = 0;
  let stop = "";
  for await (const reply of c.stream({ stream: { agent: "crab", content } })) {
    if (reply.error) throw new Error(`${content}: ${reply.error.message}`);
    const e = reply.stream;
    if (e?.start) session = Number(e.start.session);
    if (e?.chunk) {
      h.update(e.chunk.content);
      length += e.chunk.content.length;
      chunks++;
    }
    if (e?.end) stop = e.end.stopReason;
  }
  return { hash: h.digest("hex"), length, chunks, session, stop };
}

describe("big streams", () => {
  test("three concurrent 4 MB answers arrive byte for byte, every delta its own event, and are stored whole", async () => {
    const clients = await Promise.all(Array.from({ length: STREAMS }, () => d.client()));
    await read(clients[0]!, "warm");
    const got = await Promise.all(clients.map((c, i) => read(c, `big ${i}`)));
    const want = expected();
    for (const g of got) {
      expect(g.stop).toBe("stop");
      expect(g.chunks).toBe(DELTAS);
      expect(g.length).toBe(want.length);
      expect(g.hash).toBe(want.hash);
    }
    // The stored answer: one message line holding exactly the streamed text.
    const lines = readFileSync(join(d.home, "sessions", `${got[0]!.session}.jsonl`), "utf8").split("\n");
    const answers = lines
      .filter((l) => l.includes('"role":"assistant"'))
      .map((l) => (JSON.parse(l) as { message: { content: string } }).message.content);
    expect(answers).toHaveLength(1);
    expect(createHash("sha256").update(answers[0]!).digest("hex")).toBe(want.hash);
    // The daemon released that 4 MB history once the turn ended (it is over the idle budget); the next turn
    // reads it back from disk, and the model gets the whole answer again.
    const before = fake.requests.length;
    for await (const r of clients[0]!.stream({ stream: { agent: "crab", content: "next", session: got[0]!.session } }))
      if (r.error) throw new Error(r.error.message);
    const sent = messagesOf(fake.requests[before]!).map(contentText);
    expect(sent).toHaveLength(3);
    expect(sent[0]).toBe("big 0");
    expect(createHash("sha256").update(sent[1]!).digest("hex")).toBe(want.hash);
    expect(sent[2]).toBe("next");
    for (const c of clients) c.close();
  });
});
