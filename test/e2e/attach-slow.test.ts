/**
 * A slow attached client against the compiled binary: a real process that
 * attaches and is then frozen with SIGSTOP, so it truly stops reading its
 * socket (no client-side buffering can hide it). A long turn must finish
 * for the sender without waiting for it; once thawed, the frozen client
 * reads the whole turn, its consecutive deltas merged while it slept (each
 * merged delta carrying the seq of the last one in it), and re-attaching
 * after any seq it was given continues without gap or duplicate.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { clientMessage, serverMessage } from "../../src/protocol/codec.ts";
import type { ServerMessage, StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { FrameReader, encodeFrame } from "../../src/transport/framing.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { waitFor } from "../helpers/turn-kit.ts";

setDefaultTimeout(90_000);

/**
 * Deltas in the long turn: more than the daemon buffers for one client
 * (4,096 subscription events + 256 queued frames) plus what the kernel's
 * socket buffers hold, so the frozen client must be dropped.
 */
const DELTAS = 15_000;

/** The frozen client: connects, sends one frame, and copies every byte it reads to stdout. */
const CHILD = `
const s = await Bun.connect({ unix: process.env.SOCK, socket: {
  data(_s, chunk) { process.stdout.write(chunk); },
  close() { process.exit(0); },
}});
s.write(Buffer.from(process.env.FRAME, "hex"));
console.error("sent");
`;

let fake: FakeProvider;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({
    config: `[daemon]\ntcp = false\nclient_stall_timeout_ms = 120000\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`,
  });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

async function streamAll(
  stream: AsyncIterable<ServerMessage>,
  stop = (_e: StreamEvent) => false,
): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const r of stream) {
    if (!r.stream) continue;
    out.push(r.stream);
    if (stop(r.stream)) break;
  }
  return out;
}

const longText = Array.from({ length: DELTAS }, (_, i) => `w${String(i).padStart(6, "0")} `).join("");

/** A stream with each run of consecutive text deltas joined: equal for a reader that got some of them merged. */
function runs(events: StreamEvent[]): string[] {
  const out: string[] = [];
  let text: string | null = null;
  for (const e of events) {
    if (e.chunk) {
      text = (text ?? "") + e.chunk.content;
      continue;
    }
    if (text !== null) out.push(`text:${text}`);
    text = null;
    out.push(JSON.stringify({ ...e, seq: 0, timestampMs: 0 }));
  }
  if (text !== null) out.push(`text:${text}`);
  return out;
}

test("a frozen attached client never slows the turn; thawed, it reads the whole turn with deltas merged, no gap", async () => {
  fake.route(() => sseReply(openaiSse({ text: "first", textDeltas: 1 })));
  const c = await d.client();
  const first = await streamAll(c.stream({ stream: { agent: "crab", content: "make a session" } }));
  const session = first[0]!.session;
  const _from = first.at(-1)!.seq;

  // Baseline: the same long turn with nobody frozen.
  // Paced like a fast model (about 25 deltas per 4 KiB write): a reading client keeps up; one burst of
  // more than 4,096 deltas in a single read would outrun even a reading client's subscription.
  fake.route(() =>
    sseReply(openaiSse({ text: longText, textDeltas: DELTAS }), { chunkSizes: [4096], chunkDelayMs: 4 }),
  );
  let t = performance.now();
  const baseline = await streamAll(c.stream({ stream: { content: "long turn, baseline", session } }));
  const baselineMs = performance.now() - t;
  expect(baseline.length).toBeGreaterThan(DELTAS);
  const afterBaseline = baseline.at(-1)!.seq;

  const child = Bun.spawn([process.execPath, "-e", CHILD], {
    env: {
      PATH: process.env.PATH ?? "",
      SOCK: d.socket,
      FRAME: Buffer.from(
        encodeFrame(clientMessage.encode({ attach: { session, afterSeq: afterBaseline }, requestId: 1 })),
      ).toString("hex"),
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const replies: ServerMessage[] = [];
  const reader = new FrameReader();
  const pump = (async () => {
    for await (const chunk of child.stdout) for (const f of reader.push(chunk)) replies.push(serverMessage.decode(f));
  })();
  const stderr = child.stderr.getReader();
  expect(new TextDecoder().decode((await stderr.read()).value)).toContain("sent");
  // The daemon answers an attach with AttachedMsg once its subscription is in place.
  await waitFor(() => replies.some((r) => r.attached), 10_000, "the frozen client's AttachedMsg");
  child.kill("SIGSTOP");
  try {
    const watcher = await d.client();
    const watched = streamAll(
      watcher.stream({ attach: { session, afterSeq: afterBaseline } }),
      (e) => e.event === "end",
    );
    t = performance.now();
    const turn = await streamAll(c.stream({ stream: { content: "long turn, one client frozen", session } }));
    const frozenMs = performance.now() - t;
    console.log(
      `long turn of ${turn.length} events: ${Math.round(baselineMs)} ms with nobody frozen, ${Math.round(frozenMs)} ms with a frozen attached client`,
    );
    expect(turn.at(-1)!.event).toBe("end");
    // Finished while the frozen client was still frozen, and not markedly slower (generous: shared CI cores).
    expect(frozenMs).toBeLessThan(baselineMs * 4 + 5000);
    const all = await watched;
    // A reader that falls behind a burst gets consecutive deltas merged; what it reads is the same turn.
    expect(runs(all)).toEqual(runs(turn));

    child.kill("SIGCONT");
    await waitFor(() => replies.some((r) => r.stream?.end || r.error), 30_000, "the thawed client's end of turn");
    // Frozen through a whole turn of text, it is not dropped: its deltas were merged while it slept.
    expect(replies.find((r) => r.error)).toBeUndefined();
    const got = replies.filter((r) => r.stream).map((r) => r.stream!);
    expect(got.at(-1)?.end).toBeDefined();
    expect(got.length).toBeLessThan(turn.length);
    const seqs = got.map((e) => e.seq);
    expect(seqs.every((q, i) => i === 0 || q > seqs[i - 1]!)).toBe(true);
    expect(seqs[0]).toBeGreaterThan(afterBaseline);
    expect(seqs.at(-1)).toBe(turn.at(-1)!.seq);
    expect(runs(got)).toEqual(runs(turn));

    // A merged delta carries the seq of the last delta in it: re-attaching after it continues exactly there.
    const cut = got[Math.floor(got.length / 2)]!.seq;
    const rest = await streamAll(watcher.stream({ attach: { session, afterSeq: cut } }), (e) => e.event === "end");
    expect(rest.map((e) => JSON.stringify(e))).toEqual(turn.filter((e) => e.seq > cut).map((e) => JSON.stringify(e)));
    watcher.close();
    c.close();
  } finally {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
    await child.exited;
    await pump.catch(() => {});
  }
});
