/**
 * Load: N concurrent sessions (200 full, 50 short), each on its own
 * connection, stream one turn from the fake provider on loopback at once.
 * Every turn must complete with exactly its own text. Figures: tokens (text
 * deltas) per second delivered to clients, peak daemon RSS (the kernel's
 * VmHWM and the sampled VmRSS), and memory per idle session: RSS once the
 * turns are over and the clients gone, minus the idle daemon's, over N.
 */
import { rmSync } from "node:fs";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { tempHome } from "../../test/helpers/daemon.ts";
import { FakeProvider, sseReply } from "../../test/helpers/fake-provider.ts";
import { openaiSse, split } from "../../test/helpers/sse-builders.ts";
import { lastUserText } from "../../test/helpers/turn-kit.ts";
import {
  alive,
  hwmMb,
  mb,
  reliabilityConfig,
  rssSampler,
  runTurn,
  settledRss,
  startQuietDaemon,
  type Row,
  type ScenarioOptions,
} from "./common.ts";

/** Deltas per turn and their pacing: a fast model (about 100 tokens/s per stream). */
const DELTAS = 200;
const DELTA_DELAY_MS = 10;

const textFor = (prompt: string): string => Array.from({ length: DELTAS }, (_, i) => `${prompt}:${i} `).join("");

export async function loadScenario(opts: ScenarioOptions): Promise<Row[]> {
  const n = opts.short ? 50 : 200;
  await using fake = await FakeProvider.start();
  fake.route((req) => {
    const prompt = lastUserText(req);
    const sse = openaiSse({ model: "fake-model", text: textFor(prompt), textDeltas: DELTAS });
    // One SSE event per write (each about 200 bytes), 10 ms apart.
    return sseReply(sse, { chunkSizes: [sse.length / (DELTAS + 4)], chunkDelayMs: DELTA_DELAY_MS });
  });
  const home = tempHome("crabtalk-rel-load-");
  await using d = await startQuietDaemon({ home, config: reliabilityConfig(fake.url) });
  const pid = d.proc.pid;
  try {
    const idle = await settledRss(pid);
    const clients: CrabtalkClient[] = [];
    for (let i = 0; i < n; i++) clients.push(await d.client());
    const sampler = rssSampler(pid);
    const t0 = performance.now();
    const outcomes = await Promise.all(clients.map((c, i) => runTurn(c, { content: `s${i}` }, 120_000)));
    const seconds = (performance.now() - t0) / 1000;
    const sampledPeak = await sampler.stop();
    const hwm = hwmMb(pid);
    for (const c of clients) c.close();
    const right = outcomes.filter((o, i) => o.end?.stopReason === "stop" && o.text === textFor(`s${i}`)).length;
    const deltas = outcomes.reduce((sum, o) => sum + o.events.filter((e) => e.chunk).length, 0);
    const sent = clients.reduce((sum, _, i) => sum + split(textFor(`s${i}`), DELTAS).length, 0);
    const bad = outcomes.findIndex((o, i) => o.text !== textFor(`s${i}`));
    if (bad >= 0)
      opts.log(
        `turn s${bad}: ${outcomes[bad]!.error?.message ?? outcomes[bad]!.hung ?? outcomes[bad]!.end?.stopReason}, ${outcomes[bad]!.text.length} chars`,
      );
    // Give the daemon time to drop connection state, then read the memory the sessions keep.
    await Bun.sleep(1500);
    const after = await settledRss(pid, 7, 150);
    const perSession = ((after - idle) * 1024) / n;
    const turnMs = outcomes.map((o) => o.ms).sort((a, b) => a - b);
    opts.log(
      `${n} turns in ${seconds.toFixed(1)} s; turn time median ${turnMs[Math.floor(n / 2)]!.toFixed(0)} ms, max ${turnMs.at(-1)!.toFixed(0)} ms`,
    );
    return [
      {
        scenario: "load",
        check: `${n} concurrent sessions complete, right content`,
        figure: `${right}/${n} in ${seconds.toFixed(1)} s (model pace ${DELTAS} deltas at ${DELTA_DELAY_MS} ms)`,
        pass: right === n && alive(d),
      },
      {
        scenario: "load",
        check: "throughput delivered to clients",
        figure: `${Math.round(deltas / seconds)} tokens/s (${deltas} of ${sent} deltas; offered ${Math.round((n * 1000) / DELTA_DELAY_MS)}/s)`,
        pass: deltas === sent,
      },
      {
        scenario: "load",
        check: "peak daemon RSS (VmHWM / sampled)",
        figure: `${mb(hwm)} / ${mb(sampledPeak)} (idle ${mb(idle)})`,
        pass: hwm < 1024,
      },
      {
        scenario: "load",
        check: "memory per idle session",
        figure: `${perSession.toFixed(0)} KB (${mb(after)} after vs ${mb(idle)} idle; includes heap not yet returned)`,
        pass: perSession < 1024,
      },
    ];
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
