/**
 * The quiet-time collection (src/util/collect.ts QuietCollector) through
 * the compiled binary: after a turn that streamed over 8 MiB from the
 * model, the daemon collects once it has been quiet for a few seconds, but
 * not while another turn is running (here one held at the model by a gate):
 * that turn postpones it to after its own end. The daemon's debug lines say
 * when it postpones and when it collects.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, gate } from "../helpers/fake-provider.ts";
import { floodSse, lastUserText, turnConfig } from "../helpers/turn-kit.ts";

setDefaultTimeout(60_000);

/** 32,768 deltas of 128 characters: about 9.7 MB on the wire, over the collector's 8 MiB. */
const DELTAS = 32_768;
const POSTPONED = "quiet-time collection postponed: a turn is running";
const COLLECTED = "quiet-time collection after";

let fake: FakeProvider;
let d: DaemonHandle;
const hold = gate();

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route((req) =>
    lastUserText(req) === "big"
      ? { kind: "generate", chunks: () => floodSse(DELTAS, 128, 200), chunkDelayMs: 5 }
      : { kind: "generate", chunks: () => floodSse(4, 8), gate: hold.promise },
  );
  d = await startDaemon({ config: turnConfig(fake.url), args: ["--log-level", "debug"] });
});
afterAll(async () => {
  hold.release();
  await d.cleanup();
  await fake.stop();
});

async function turn(c: CrabtalkClient, content: string): Promise<number> {
  let chars = 0;
  for await (const reply of c.stream({ stream: { agent: "crab", content } })) {
    if (reply.error) throw new Error(`${content}: ${reply.error.message}`);
    if (reply.stream?.chunk) chars += reply.stream.chunk.content.length;
  }
  return chars;
}

describe("quiet-time collection", () => {
  test("after heavy streaming it waits for the turn running at the quiet time's end, then collects once", async () => {
    const [a, b] = await Promise.all([d.client(), d.client()]);
    expect(await turn(a, "big")).toBe(DELTAS * 128);
    expect(d.stderr()).not.toContain(COLLECTED);
    // A second turn, held at the model, runs through the quiet time the big one started.
    const requests = fake.requests.length;
    const held = turn(b, "held");
    while (fake.requests.length === requests) await Bun.sleep(10);
    await d.waitLog(POSTPONED, 20_000);
    expect(d.stderr()).not.toContain(COLLECTED);
    hold.release();
    expect(await held).toBe(32);
    await d.waitLog(COLLECTED, 20_000);
    const line = d
      .stderr()
      .split("\n")
      .find((l) => l.includes(COLLECTED))!;
    const mib = Number(/after ([\d.]+) MiB/.exec(line)?.[1]);
    expect(mib).toBeGreaterThanOrEqual(8);
    a.close();
    b.close();
  });
});
