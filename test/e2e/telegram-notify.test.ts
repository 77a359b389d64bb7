/**
 * Notify across absences (issue 19, the durable cursor): the gateway runs by
 * hand (`crabtalk telegram serve`) so the test decides when it is down. An
 * event published while it is stopped is replayed from the daemon's bus
 * journal when it comes back and delivered exactly once; so is one published
 * before a daemon restart; a cursor older than the journal keeps is reported
 * by the daemon and the gateway instead of being skipped silently. And a
 * gateway stopped with SIGTERM mid-answer exits 0 after a last edit; the
 * next run finishes the reply in the same message.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { binaryPath, startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { pacedSse, TelegramEmulator } from "../helpers/telegram-emulator.ts";
import { turnConfig } from "../helpers/turn-kit.ts";

const ALICE = 111;

let fake: FakeProvider;
let emu: TelegramEmulator;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await FakeProvider.start();
  emu = await TelegramEmulator.start();
  d = await startDaemon({ config: turnConfig(fake.url) });
});
afterAll(async () => {
  gateway?.proc.kill("SIGKILL");
  await d.cleanup();
  await emu.stop();
  await fake.stop();
});

interface Gateway {
  proc: Subprocess<"ignore", "ignore", "pipe">;
  stderr(): string;
}
let gateway: Gateway | null = null;

/** Starts `crabtalk telegram serve` by hand and waits for its first poll (it polls once subscribed to the daemon). */
async function startGateway(): Promise<Gateway> {
  const config = JSON.stringify({
    token: emu.token,
    allowed_users: [ALICE],
    agent: "crab",
    api_root: emu.url,
    poll_timeout_s: 20,
    notify: { "deploy:*": ALICE },
  });
  const polls = emu.callsOf("getUpdates").length;
  const proc = Bun.spawn([binaryPath(), "telegram", "serve", "--daemon", d.socket, "--config", config], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: d.home, CRABTALK_HOME: d.home },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  let text = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) text += decoder.decode(chunk);
  })();
  gateway = { proc, stderr: () => text };
  await emu.waitFor("the gateway's first poll", () => emu.callsOf("getUpdates").length > polls, 20_000);
  return gateway;
}

async function killGateway(): Promise<void> {
  const g = gateway!;
  g.proc.kill("SIGKILL");
  await g.proc.exited;
  gateway = null;
}

async function publish(source: string, payload: string): Promise<void> {
  const c = await d.client();
  try {
    await c.request({ publishEvent: { source, payload } });
  } finally {
    c.close();
  }
}

const notices = (payload: string) => emu.messages(ALICE).filter((m) => m.text === `🔔 deploy:web\n${payload}`);
const outbox = () => join(d.home, "gateways", "telegram", `notify-${emu.bot.id}.json`);

test("an event published while the gateway is stopped is delivered exactly once when it comes back", async () => {
  await startGateway();
  await publish("deploy:web", "v1 is live");
  await emu.waitFor("the live delivery", () => notices("v1 is live").length > 0);
  await emu.waitFor("the cursor past it", () => (JSON.parse(readFileSync(outbox(), "utf8")).cursor ?? 0) > 0);
  await killGateway();

  await publish("deploy:web", "v2 is live"); // nobody listens
  await publish("ops:other", "not routed");
  await startGateway();
  await emu.waitFor("the replayed delivery", () => notices("v2 is live").length > 0);
  await publish("deploy:web", "v3 is live");
  await emu.waitFor("a live delivery after the replay", () => notices("v3 is live").length > 0);
  // In order, each once: the replay's seam with the live stream neither drops nor repeats.
  const texts = emu.messages(ALICE).map((m) => m.text);
  expect(texts.filter((t) => t.startsWith("🔔"))).toEqual([
    "🔔 deploy:web\nv1 is live",
    "🔔 deploy:web\nv2 is live",
    "🔔 deploy:web\nv3 is live",
  ]);
});

test("an event published before a daemon restart, with the gateway down, is delivered once after both come back", async () => {
  await killGateway();
  await publish("deploy:web", "v4 is live");
  expect(await d.stop()).toBe(0);
  d = await startDaemon({ home: d.home, config: turnConfig(fake.url) });
  await startGateway();
  await emu.waitFor("the delivery after the daemon restart", () => notices("v4 is live").length > 0);
  await publish("deploy:web", "v5 is live");
  await emu.waitFor("a live one after it", () => notices("v5 is live").length > 0);
  for (const v of ["v1", "v2", "v3", "v4", "v5"]) expect(notices(`${v} is live`)).toHaveLength(1);
});

test("a cursor older than the journal keeps is reported, not skipped silently", async () => {
  await killGateway();
  await publish("deploy:web", "v6 is live"); // published while the gateway is away ...
  expect(await d.stop()).toBe(0);
  // ... and the gateway stays away longer than the journal keeps events (7 days): age every entry by 8 days.
  const journal = join(d.home, "bus-journal.jsonl");
  const aged = readFileSync(journal, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      const e = JSON.parse(l) as { at?: number };
      if (typeof e.at === "number") e.at -= 8 * 24 * 3600_000;
      return JSON.stringify(e);
    });
  writeFileSync(journal, `${aged.join("\n")}\n`);
  const cursor = JSON.parse(readFileSync(outbox(), "utf8")).cursor as number;
  d = await startDaemon({ home: d.home, config: turnConfig(fake.url) });
  const g = await startGateway();
  const lost = `bus events ${cursor + 1}..`;
  await emu.waitFor("the gateway's report", () => g.stderr().includes(lost) || null, 10_000);
  expect(g.stderr()).toContain("are older than the journal keeps");
  await d.waitLog(`seqs ${cursor + 1}..`);
  expect(notices("v6 is live")).toHaveLength(0);
  // Delivery goes on after the report.
  await publish("deploy:web", "v7 is live");
  await emu.waitFor("a live one after the report", () => notices("v7 is live").length > 0);
  expect(notices("v7 is live")).toHaveLength(1);
});

test("SIGTERM mid-answer: the gateway exits 0 after a last edit, and the next run finishes the reply in the same message", async () => {
  const g = gateway ?? (await startGateway());
  const answer = "The moon pulls the sea. The sea pulls the sand. The crab pulls nothing and is content with it.";
  fake.enqueue(pacedSse(openaiSse({ model: "fake-model", text: answer, textDeltas: 20 }), 250));
  await emu.send({ user: ALICE, text: "slowly, please" });
  const partial = await emu.waitFor("a partial reply", () =>
    emu.messages(ALICE).find((m) => m.text.startsWith("The moon") && m.text.length < answer.length),
  );
  g.proc.kill("SIGTERM");
  expect(await g.proc.exited).toBe(0);
  gateway = null;
  expect(g.stderr()).toContain("a last edit for 1 reply(ies) in flight");
  const chats = join(d.home, "gateways", "telegram", `chats-${emu.bot.id}.json`);
  const inflight = () =>
    JSON.parse(readFileSync(chats, "utf8")).chats[ALICE].inflight as { messages: number[] } | undefined;
  expect(inflight()?.messages).toEqual([partial.id]);

  await startGateway();
  await emu.waitFor("the final text in the same message", () =>
    emu.messages(ALICE).find((m) => m.id === partial.id && m.text === answer && m.parseMode),
  );
  expect(emu.messages(ALICE).filter((m) => m.text.includes("The moon"))).toHaveLength(1);
  await emu.waitFor("the in-flight record cleared", () => inflight() === undefined);
});
