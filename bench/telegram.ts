/**
 * Telegram gateway benchmark, `bun bench/telegram.ts`: what the gateway
 * costs at rest and what it adds before a user sees the first words. In one
 * run, against the compiled binary (dist/crabtalk) run as the daemon's
 * gateway service, the Bot API emulator (test/helpers/telegram-emulator.ts)
 * and a fake provider answering at once:
 *
 * - Idle RSS of the gateway process once it is polling, against an idle
 *   `crabtalk events` (another client process of the same binary); the
 *   daemon's idle RSS is printed beside them.
 * - First answer on Telegram: from the user's message reaching the emulator
 *   to the gateway's first message carrying answer text (its first
 *   sendMessage: later text arrives as edits). Baseline: the daemon's own
 *   first token, a direct StreamMsg to its first chunk, measured in
 *   alternation with it on a session of the same length.
 *
 * Medians (and p95s in the details). The machine is shared: compare within one run.
 */
import { binaryPath, startDaemon } from "../test/helpers/daemon.ts";
import { FakeProvider, sseReply } from "../test/helpers/fake-provider.ts";
import { openaiSse } from "../test/helpers/sse-builders.ts";
import { gatewaySection, TelegramEmulator } from "../test/helpers/telegram-emulator.ts";
import { rssOf, turnConfig } from "../test/helpers/turn-kit.ts";
import { median, percentile } from "./stats.ts";
import { reportTargets } from "./targets.ts";

const ROUNDS = Number(process.env.TELEGRAM_ROUNDS ?? 30);
const USER = 111;
/** The gateway is a client like `crabtalk events` plus grammy's web build and a few maps: a quarter more at most. */
const RSS_TARGET_RATIO = 1.25;
/** What the gateway may add to the daemon's first token (two local HTTP hops and one socket hop). */
const ADDED_TARGET_MS = 50;

const fake = await FakeProvider.start();
fake.route(() => sseReply(openaiSse({ model: "fake-model", text: "first words of the answer" })));
const emu = await TelegramEmulator.start();
await using daemon = await startDaemon({
  config: turnConfig(fake.url) + gatewaySection(binaryPath(), emu, { allowed: [USER] }),
});
try {
  await emu.waitFor("the gateway polling", () => emu.callsOf("getUpdates").length > 0);
  const client = await daemon.client();
  const services = (await client.request({ getServices: {} })).serviceList?.services ?? [];
  const gatewayPid = services.find((s) => s.name === "telegram")?.pid ?? 0;
  if (!gatewayPid) throw new Error("the gateway service has no pid");

  // Idle: a few samples a quarter second apart, after a second at rest; beside it, an idle `crabtalk events`
  // (another client of the same binary, following the daemon's events) as the floor of a client process.
  const watcher = Bun.spawn([binaryPath(), "events", "--socket", daemon.socket], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: daemon.home, CRABTALK_HOME: daemon.home },
    stdout: "ignore",
    stderr: "ignore",
  });
  await Bun.sleep(1000);
  const gatewayRss: number[] = [];
  const daemonRss: number[] = [];
  const watcherRss: number[] = [];
  for (let i = 0; i < 5; i++) {
    gatewayRss.push(rssOf(gatewayPid) / 1024 / 1024);
    daemonRss.push(rssOf(daemon.proc.pid) / 1024 / 1024);
    watcherRss.push(rssOf(watcher.pid) / 1024 / 1024);
    await Bun.sleep(250);
  }
  watcher.kill();
  await watcher.exited;

  const viaTelegram: number[] = [];
  const direct: number[] = [];
  let directSession = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const seen = emu.callsOf("sendMessage", USER).length;
    const t0 = performance.now();
    await emu.send({ user: USER, text: `round ${i}` });
    const first = await emu.waitFor("the first answer message", () => emu.callsOf("sendMessage", USER)[seen], 10_000);
    viaTelegram.push(first.hr - t0);
    // The reply's final pass (Markdown) must be done before the next round, so rounds do not overlap.
    // (A reply that ends before its first flush goes out as one Markdown message, with no edit.)
    await emu.waitFor("the final pass", () =>
      emu.calls.some((c) => c.hr >= first.hr && Number(c.body.chat_id) === USER && c.body.parse_mode === "MarkdownV2"),
    );

    const t1 = performance.now();
    let firstChunk = 0;
    for await (const r of client.stream({
      stream: { agent: "crab", content: `round ${i}`, session: directSession || undefined },
    })) {
      if (r.stream?.start) directSession = Number(r.stream.start.session);
      if (r.stream?.chunk && !firstChunk) firstChunk = performance.now() - t1;
    }
    direct.push(firstChunk);
  }
  client.close();

  const ms = (xs: number[]) => `median ${median(xs).toFixed(2)} ms, p95 ${percentile(xs, 95).toFixed(2)} ms`;
  console.log(`telegram gateway (${ROUNDS} rounds)`);
  console.log(
    `  gateway idle RSS      median ${median(gatewayRss).toFixed(1)} MB (samples ${gatewayRss.map((x) => x.toFixed(1)).join(", ")})`,
  );
  console.log(`  daemon idle RSS       median ${median(daemonRss).toFixed(1)} MB`);
  console.log(`  crabtalk events RSS   median ${median(watcherRss).toFixed(1)} MB (an idle client of the same binary)`);
  console.log(`  message -> first answer on Telegram   ${ms(viaTelegram)}`);
  console.log(`  direct StreamMsg -> first chunk       ${ms(direct)}`);
  console.log(`  added by the gateway (medians)        ${(median(viaTelegram) - median(direct)).toFixed(2)} ms`);

  const rss = median(gatewayRss);
  const floor = median(watcherRss);
  const first = median(viaTelegram);
  const base = median(direct);
  reportTargets("telegram", [
    {
      figure: "gateway idle RSS",
      value: rss,
      unit: "MB",
      baseline: "idle crabtalk events client",
      baselineValue: floor,
      ratio: rss / floor,
      target: `≤ ${RSS_TARGET_RATIO}× idle client`,
      pass: rss / floor <= RSS_TARGET_RATIO,
    },
    {
      figure: "user message → first answer on Telegram (median)",
      value: first,
      unit: "ms",
      baseline: "daemon first token",
      baselineValue: base,
      ratio: first / base,
      target: `≤ baseline + ${ADDED_TARGET_MS} ms`,
      pass: first - base <= ADDED_TARGET_MS,
    },
  ]);
} finally {
  await emu.stop();
  await fake.stop();
}
