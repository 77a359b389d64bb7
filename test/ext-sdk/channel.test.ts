/**
 * The SDK behind the daemon's own request channel (src/transport/
 * request-channel.ts over connectPipe, as the extension host uses it):
 * ids assigned by the channel come back matched, and the round trip of a
 * tool call to a real extension process is measured (printed, and bounded
 * loosely so a regression to serial handling or a per-call stall fails).
 */
import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { extRequest, extResponse, type Init } from "../../src/protocol/codec.ts";
import type { ExtRequest, ExtResponse } from "../../src/protocol/gen/ext.ts";
import { RequestChannel } from "../../src/transport/request-channel.ts";
import { bunRun, connectWhenListening, spawnExtension } from "./daemon-side.ts";

type Req = Init<ExtRequest>;

const codec = {
  encode: (m: Req) => extRequest.encode(m),
  decode: (frame: Uint8Array) => extResponse.decode(frame),
  idOf: (r: ExtResponse) => r.requestId,
  withId: (m: Req, id: number): Req => ({ ...m, requestId: id }),
  errorOf: (r: ExtResponse) => (r.msg === "error" ? new Error(r.error!.message) : null),
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

test("over a RequestChannel: handshake, errors as rejections, and the tool call round trip", async () => {
  const spawned = spawnExtension(bunRun(join(import.meta.dir, "full-extension.ts")));
  const channel = new RequestChannel<Req, ExtResponse>(await connectWhenListening(spawned), {
    codec,
    defaultTimeoutMs: 10_000,
  });
  try {
    expect((await channel.request({ hello: { version: "t" } })).ready!.service).toBe("full");
    expect((await channel.request({ configure: { config: "{}" } })).msg).toBe("configured");
    expect((await channel.request({ registerTools: {} })).toolSchemas!.tools.length).toBe(8);
    await expect(channel.request({ toolCall: { name: "boom", args: "{}" } })).rejects.toThrow("kaboom");

    const call = { toolCall: { name: "echo", args: '{"text":"t"}' } };
    for (let i = 0; i < 100; i++) await channel.request(call); // warm-up
    const one: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const t0 = performance.now();
      await channel.request(call);
      one.push(performance.now() - t0);
    }
    one.sort((a, b) => a - b);
    const batches: number[] = [];
    for (let b = 0; b < 20; b++) {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 100 }, () => channel.request(call)));
      batches.push(performance.now() - t0);
    }
    batches.sort((a, b) => a - b);
    console.log(
      `SDK tool call round trip over a Unix socket: one at a time median ${percentile(one, 50).toFixed(3)} ms, p99 ${percentile(one, 99).toFixed(3)} ms; 100 concurrent: batch median ${percentile(batches, 50).toFixed(2)} ms, p99 ${percentile(batches, 99).toFixed(2)} ms`,
    );
    // Loose bounds (2 shared cores): a serial or stalling SDK would be far above them.
    expect(percentile(one, 50)).toBeLessThan(20);
    expect(percentile(batches, 50)).toBeLessThan(1000);
    expect(channel.droppedReplies).toBe(0);
  } finally {
    channel.close();
    await spawned.proc.exited;
    rmSync(spawned.dir, { recursive: true, force: true });
  }
});
