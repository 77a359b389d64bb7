/**
 * The cost of remote access, `bun bench/remote.ts` (compiled binary:
 * dist/crabtalk or $CRABTALK_BIN), three daemons in turn on loopback:
 *
 * - plain TCP on 127.0.0.1, no token (the same-user rule: today's baseline);
 * - TCP on 0.0.0.0 with a token (authentication, no encryption);
 * - TCP on 0.0.0.0 with a token over TLS (a `crabtalk tls init` certificate, pinned).
 *
 * For each: connect-to-first-reply (TCP connect, TLS handshake, Auth, one
 * Ping; median over CONNECTS) and per-event throughput (replaying a session
 * of EVENTS chunk events through AttachSession; events/s, median of REPLAYS).
 */
import { rmSync } from "node:fs";
import { CrabtalkClient } from "../src/client/client.ts";
import type { EndpointOptions } from "../src/client/endpoint.ts";
import { startDaemon, tempHome } from "../test/helpers/daemon.ts";
import { FakeProvider, sseReply } from "../test/helpers/fake-provider.ts";
import { openaiSse } from "../test/helpers/sse-builders.ts";
import { createToken, remoteConfig, tlsInit } from "../test/e2e/remote-kit.ts";
import { median, printTable } from "./stats.ts";

const CONNECTS = Number(process.env.CONNECTS ?? 40);
const EVENTS = Number(process.env.EVENTS ?? 3000);
const REPLAYS = Number(process.env.REPLAYS ?? 5);

const fake = await FakeProvider.start();
fake.route(() => sseReply(openaiSse({ text: "x".repeat(EVENTS), textDeltas: EVENTS })));

interface Result {
  connectMs: number;
  eventsPerSec: number;
}

async function measure(kind: "plain" | "token" | "tls"): Promise<Result> {
  const home = tempHome("crabtalk-bench-remote-");
  try {
    let token: string | undefined;
    let fingerprint: string | undefined;
    if (kind !== "plain") token = await createToken(home, "bench", "read");
    if (kind === "tls") fingerprint = await tlsInit(home);
    const config = remoteConfig(home, fake.url, {
      tcp: kind === "plain" ? "127.0.0.1:0" : "0.0.0.0:0",
      tls: kind === "tls",
    });
    await using d = await startDaemon({ home, config });
    const owner = await d.client();
    const session = Number((await owner.request({ send: { agent: "crab", content: "go" } })).response?.session);
    owner.close();
    const options: EndpointOptions = {
      home,
      tcp: `127.0.0.1:${d.tcpPort()}`,
      token,
      tls: kind === "tls",
      fingerprint,
    };

    const connects: number[] = [];
    for (let i = 0; i < CONNECTS; i++) {
      const t0 = performance.now();
      const c = await CrabtalkClient.connect(options);
      await c.request({ ping: {} });
      connects.push(performance.now() - t0);
      c.close();
    }

    const rates: number[] = [];
    const c = await CrabtalkClient.connect(options);
    // One untimed replay first: the client's decoding path warms up before any run is timed.
    for (let i = -1; i < REPLAYS; i++) {
      let events = 0;
      const t0 = performance.now();
      for await (const reply of c.stream({ attach: { session, afterSeq: 0 } })) {
        if (reply.stream) events++;
        if (reply.stream?.end) break;
      }
      if (i >= 0) rates.push(events / ((performance.now() - t0) / 1000));
    }
    c.close();
    return { connectMs: median(connects), eventsPerSec: median(rates) };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

// Baseline last, so it does not pay for the bench process's own warm-up.
const token = await measure("token");
const tls = await measure("tls");
const plain = await measure("plain");
await fake.stop();

const ms = (x: number) => `${x.toFixed(2)} ms`;
const rate = (x: number) => `${Math.round(x).toLocaleString("en-US")} events/s`;
printTable(`remote access (medians; ${CONNECTS} connects, ${REPLAYS} replays of ${EVENTS} events)`, [
  ["connect to first reply: plain TCP, loopback, no token", ms(plain.connectMs)],
  [
    "connect to first reply: TCP + token",
    `${ms(token.connectMs)} (${(token.connectMs / plain.connectMs).toFixed(2)}x)`,
  ],
  ["connect to first reply: TLS + token", `${ms(tls.connectMs)} (${(tls.connectMs / plain.connectMs).toFixed(2)}x)`],
  ["replay throughput: plain TCP", rate(plain.eventsPerSec)],
  [
    "replay throughput: TCP + token",
    `${rate(token.eventsPerSec)} (${(token.eventsPerSec / plain.eventsPerSec).toFixed(2)}x)`,
  ],
  [
    "replay throughput: TLS + token",
    `${rate(tls.eventsPerSec)} (${(tls.eventsPerSec / plain.eventsPerSec).toFixed(2)}x)`,
  ],
]);
