/**
 * Start-up in CI (issue 20), with generous margins: the compiled daemon's
 * exec → socket accepting and `crabtalk --version` against the floor program
 * (bench/floor/floor.ts, compiled here the way the daemon is), medians of
 * five, side by side. The bounds sit about 2× above where start-up stands
 * (bench/startup.ts measures the real figures: accepting ~1.3×, --version
 * ~0.5×), so they catch a regression, not noise from a busy machine. Idle
 * RSS at the first answer against the floor server's, at the target (≤ 1.0×):
 * RSS is steady where timings are not (see MAX_RSS_RATIO).
 *
 * And the correctness that deferred start-up relies on: a request that
 * arrives after the socket accepts but before the runtime is assembled
 * waits for it and is answered, never refused for being early.
 */
import { expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildFloor, rssMb, startDaemonTimed, startFloorTimed, stopStarted } from "../../bench/startup.ts";
import { CrabtalkClient } from "../../src/client/client.ts";
import { binaryPath, tempHome } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { textOf, turnConfig, streamTurn } from "../helpers/turn-kit.ts";

const RUNS = 5;
const MAX_RATIO = 2.5;
/**
 * `--version` answers before the command table loads (about 0.5× the floor
 * client); loading the table and every command again measured 1.9×, which
 * this bound catches with room for a noisy machine.
 */
const MAX_VERSION_RATIO = 1.5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timedExit(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}`);
  return performance.now() - t0;
}

test("daemon start-up stays within 2.5× of the floor program, --version within 1.5× of its client", async () => {
  const bin = binaryPath();
  const floor = await buildFloor();
  const daemon: number[] = [];
  const floorServe: number[] = [];
  const version: number[] = [];
  const floorClient: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const d = await startDaemonTimed(bin, "[daemon]\ntcp = false\n");
    daemon.push(d.times.accepted);
    await stopStarted(d);
    const f = await startFloorTimed(floor);
    floorServe.push(f.times.accepted);
    version.push(await timedExit([bin, "--version"]));
    floorClient.push(await timedExit([floor, "client", f.socket]));
    await stopStarted(f);
  }
  const startRatio = median(daemon) / median(floorServe);
  const versionRatio = median(version) / median(floorClient);
  const report = `daemon ${median(daemon).toFixed(1)} ms vs floor ${median(floorServe).toFixed(1)} ms (${startRatio.toFixed(2)}×); --version ${median(version).toFixed(1)} ms vs floor client ${median(floorClient).toFixed(1)} ms (${versionRatio.toFixed(2)}×)`;
  console.log(report);
  expect(startRatio, report).toBeLessThanOrEqual(MAX_RATIO);
  expect(versionRatio, report).toBeLessThanOrEqual(MAX_VERSION_RATIO);
}, 60_000);

/**
 * Idle RSS at the first answer against the floor server's, medians of five:
 * the target itself (≤ 1.0×), since it stands at about 0.94× and RSS medians
 * vary by a few tenths of a MB, while each regression found so far was ≥ 1 MB
 * (start-up code hot enough for JSC's optimizing JIT: 3 MB; process.stderr's
 * stream for the listening line: 1 MB).
 */
const MAX_RSS_RATIO = 1.0;

test.if(process.platform === "linux")(
  "an idle daemon's RSS at its first answer stays within the floor server's",
  async () => {
    const bin = binaryPath();
    const floor = await buildFloor();
    await using fake = await FakeProvider.start();
    const config = turnConfig(fake.url);
    const daemon: number[] = [];
    const floorServe: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const d = await startDaemonTimed(bin, config);
      daemon.push(rssMb(d.proc.pid!));
      await stopStarted(d);
      const f = await startFloorTimed(floor);
      floorServe.push(rssMb(f.proc.pid!));
      await stopStarted(f);
    }
    const ratio = median(daemon) / median(floorServe);
    const report = `daemon ${median(daemon).toFixed(1)} MB vs floor ${median(floorServe).toFixed(1)} MB (${ratio.toFixed(3)}×)`;
    console.log(report);
    expect(ratio, report).toBeLessThanOrEqual(MAX_RSS_RATIO);
  },
  60_000,
);

test("requests that arrive while the daemon is still assembling wait for it and are answered", async () => {
  await using fake = await FakeProvider.start();
  fake.route(() => sseReply(openaiSse({ text: "early bird", usage: { prompt: 3, completion: 2 } })));
  const home = tempHome();
  writeFileSync(join(home, "crabtalk.toml"), turnConfig(fake.url));
  // A slow disk, made certain: the session store's next-id is a FIFO, so opening the store (after the
  // socket accepts) blocks until this test writes to it; meanwhile the daemon's event loop is free.
  mkdirSync(join(home, "sessions"), { mode: 0o700 });
  const fifo = join(home, "sessions", "next-id");
  expect(Bun.spawnSync(["mkfifo", "-m", "600", fifo]).exitCode).toBe(0);
  const proc = Bun.spawn([binaryPath(), "daemon"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  try {
    let client: CrabtalkClient | null = null;
    while (!client) {
      client = await CrabtalkClient.connect({ home }).catch(() => null);
      if (!client) await Bun.sleep(1);
    }
    let answered = 0;
    const count = <T>(p: Promise<T>) => p.finally(() => answered++);
    const pending = Promise.all([
      count(client.request({ ping: {} })),
      count(client.request({ status: {} })),
      count(client.request({ sessions: {} })),
      count(streamTurn(client, { content: "hello" })),
    ]);
    // The router answers Unsubscribe itself, in order: once its ack is here, the daemon has read the four
    // requests above, and with the store still blocked on the FIFO none of them can have been answered.
    const ack = await client.request({ unsubscribe: { requestId: 999_999 } });
    expect(ack.msg).toBe("ack");
    expect(answered).toBe(0);
    await writeFile(fifo, "1\n");
    const [pong, status, sessions, events] = await pending;
    expect(pong.msg).toBe("pong");
    expect(status.msg).toBe("status");
    expect(status.status?.agents.map((a) => a.agent)).toEqual(["crab"]);
    expect(sessions.msg).toBe("sessions");
    expect(textOf(events)).toBe("early bird");
    client.close();
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
    rmSync(home, { recursive: true, force: true });
  }
});
