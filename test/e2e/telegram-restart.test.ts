/**
 * Issue 19 acceptance, what survives and what waits: a 429 with
 * retry_after during streaming holds the edits and the final text still
 * arrives; killing the gateway's pid makes the daemon start it again and the
 * chat continues the same session (and so does a daemon restart); a notify
 * event is delivered exactly once across a gateway restart.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { binaryPath, startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { gatewaySection, pacedSse, TelegramEmulator } from "../helpers/telegram-emulator.ts";
import { contentText, messagesOf, pidAlive, turnConfig } from "../helpers/turn-kit.ts";

const ALICE = 111;
const BOB = 222;

let fake: FakeProvider;
let emu: TelegramEmulator;
let d: DaemonHandle;
let config: string;

beforeAll(async () => {
  fake = await FakeProvider.start();
  emu = await TelegramEmulator.start();
  config =
    turnConfig(fake.url) +
    gatewaySection(binaryPath(), emu, { allowed: [ALICE, BOB], notify: { "deploy:*": ALICE, "cron:*:done": BOB } });
  d = await startDaemon({ config });
  await emu.waitFor("the gateway's first getUpdates", () => emu.callsOf("getUpdates").length > 0);
});
afterAll(async () => {
  await d.cleanup();
  await emu.stop();
  await fake.stop();
});

const reply = (text: string) => sseReply(openaiSse({ model: "fake-model", text }));
const shown = (chat: number, text: string) => () => emu.messages(chat).find((m) => m.text.includes(text));

async function gatewayPid(c: CrabtalkClient): Promise<number> {
  const services = (await c.request({ getServices: {} })).serviceList?.services ?? [];
  const s = services.find((x) => x.name === "telegram");
  return s?.status === "running" ? s.pid : 0;
}

/** SIGKILLs the gateway and waits until the daemon's new one is subscribed and polls Telegram again. */
async function killGateway(): Promise<void> {
  const c = await d.client();
  try {
    const pid = await gatewayPid(c);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    await emu.waitFor("the gone gateway", () => !pidAlive(pid));
    // The new process polls only once it is connected and subscribed to the daemon's events.
    const polls = emu.callsOf("getUpdates").length;
    await emu.waitFor("the restarted gateway's first poll", () => emu.callsOf("getUpdates").length > polls, 20_000);
    const again = await emu.waitFor("a new gateway pid", async () => (await gatewayPid(c)) || null);
    expect(await again).not.toBe(pid);
  } finally {
    c.close();
  }
}

test("a 429 with retry_after during streaming holds the edits until then, and the final text still arrives", async () => {
  const answer = "Tides follow the moon. Crabs follow the tides. Everyone follows the crabs!";
  emu.fail(
    "editMessageText",
    { status: 429, description: "Too Many Requests: retry after 3", retryAfter: 3 },
    { match: (b) => Number(b.chat_id) === BOB },
  );
  fake.enqueue(pacedSse(openaiSse({ model: "fake-model", text: answer, textDeltas: 10 }), 400));
  await emu.send({ user: BOB, text: "tides?" });
  await emu.waitFor("the final answer", () => emu.messages(BOB).find((m) => m.text === answer && m.parseMode));
  const writes = emu.calls.filter(
    (c) => ["sendMessage", "editMessageText"].includes(c.method) && Number(c.body.chat_id) === BOB,
  );
  const limited = writes.findIndex((c) => c.status === 429);
  expect(limited).toBeGreaterThan(0);
  const next = writes[limited + 1]!;
  expect(next.at - writes[limited]!.at).toBeGreaterThanOrEqual(2950);
  expect(writes.at(-1)!.status).toBe(200);
  expect(emu.messages(BOB)).toHaveLength(1);
});

test("after the gateway's pid is killed the daemon starts it again and the chat continues the same session; so after a daemon restart", async () => {
  const before = fake.requests.length;
  fake.enqueue(reply("first noted"), reply("second noted"), reply("third noted"));
  await emu.send({ user: ALICE, text: "remember the shell" });
  await emu.waitFor("the first answer", shown(ALICE, "first noted"));
  const chats = join(d.home, "gateways", "telegram", `chats-${emu.bot.id}.json`);
  const session = JSON.parse(readFileSync(chats, "utf8")).chats[ALICE].sessions.crab as number;
  expect(session).toBeGreaterThan(0);

  await killGateway();
  await emu.send({ user: ALICE, text: "what did I say?" });
  await emu.waitFor("the answer after the gateway restart", shown(ALICE, "second noted"));
  expect(messagesOf(fake.requests[before + 1]!).some((m) => contentText(m) === "remember the shell")).toBe(true);

  expect(await d.stop()).toBe(0);
  const getMes = emu.callsOf("getMe").length;
  d = await startDaemon({ home: d.home, config });
  await emu.waitFor("the gateway of the new daemon", () => emu.callsOf("getMe").length > getMes, 20_000);
  await emu.send({ user: ALICE, text: "and now?" });
  await emu.waitFor("the answer after the daemon restart", shown(ALICE, "third noted"));
  const history = messagesOf(fake.requests[before + 2]!).map(contentText);
  expect(history).toContain("remember the shell");
  expect(history).toContain("what did I say?");
  expect(JSON.parse(readFileSync(chats, "utf8")).chats[ALICE].sessions.crab).toBe(session);
});

test("a gateway killed while an answer streams: the restarted one finishes it in the same message, exact and once", async () => {
  const answer =
    "Low tide comes twice a day. The crabs wait under the rocks. When the water returns they walk sideways home.";
  fake.enqueue(pacedSse(openaiSse({ model: "fake-model", text: answer, textDeltas: 20 }), 250));
  await emu.send({ user: ALICE, text: "tell me slowly" });
  // A partial reply is on Telegram (plain text, a prefix of the answer): the turn is mid-stream.
  const partial = await emu.waitFor("a partial reply", () =>
    emu.messages(ALICE).find((m) => m.text.startsWith("Low tide") && m.text.length < answer.length),
  );
  const chats = join(d.home, "gateways", "telegram", `chats-${emu.bot.id}.json`);
  const inflight = () =>
    JSON.parse(readFileSync(chats, "utf8")).chats[ALICE].inflight as { messages: number[] } | undefined;
  expect(inflight()?.messages).toEqual([partial.id]);
  await killGateway();
  await emu.waitFor("the final text in the same message", () =>
    emu.messages(ALICE).find((m) => m.id === partial.id && m.text === answer && m.parseMode),
  );
  expect(emu.messages(ALICE).filter((m) => m.text.includes("Low tide"))).toHaveLength(1);
  await emu.waitFor("the in-flight record cleared", () => inflight() === undefined);
});

test("a notify event is delivered exactly once across a gateway restart", async () => {
  const notices = (text: string) => emu.messages(ALICE).filter((m) => m.text.includes(text));
  // Telegram fails the delivery while this gateway runs: the event waits in its outbox.
  emu.fail(
    "sendMessage",
    { status: 500, description: "Internal Server Error" },
    { count: 1000, match: (b) => String(b.text).includes("v2 is live") },
  );
  const c = await d.client();
  try {
    await c.request({ publishEvent: { source: "deploy:web", payload: "v2 is live" } });
    await emu.waitFor("a failed delivery attempt", () =>
      emu.calls.some((x) => x.status === 500 && String(x.body.text).includes("v2 is live")),
    );
    await emu.waitFor("the event in the outbox", () =>
      readFileSync(join(d.home, "gateways", "telegram", `notify-${emu.bot.id}.json`), "utf8").includes("v2 is live"),
    );
    // Killed while Telegram still refuses (so the old process cannot slip the delivery in first), then Telegram recovers.
    await killGateway();
    emu.clearFaults();
    await emu.waitFor("the delivery by the restarted gateway", () => notices("v2 is live").length > 0);

    // Another restart must not send it again; a later event goes out once too. The kill waits until the
    // delivery is recorded: between Telegram's answer and that record delivery is at-least-once (README).
    const outbox = join(d.home, "gateways", "telegram", `notify-${emu.bot.id}.json`);
    await emu.waitFor("the delivery recorded", () => JSON.parse(readFileSync(outbox, "utf8")).pending.length === 0);
    await killGateway();
    await c.request({ publishEvent: { source: "deploy:api", payload: "api is live" } });
    await emu.waitFor("the second event", () => notices("api is live").length > 0);
    fake.enqueue(reply("still here"));
    await emu.send({ user: ALICE, text: "ping" });
    await emu.waitFor("an answer after both restarts", shown(ALICE, "still here"));
    expect(notices("v2 is live")).toHaveLength(1);
    expect(notices("api is live")).toHaveLength(1);
    expect(notices("v2 is live")[0]!.text).toBe("🔔 deploy:web\nv2 is live");
  } finally {
    c.close();
  }
});

test("a cron job's result is delivered to its notify chat", async () => {
  const c = await d.client();
  try {
    fake.enqueue(reply("Morning brief: low tide at 9."));
    await c.request({
      cronSet: { job: { id: "brief", schedule: "0 9 * * *", agent: "crab", message: "brief me" }, create: true },
    });
    await c.request({ cronRun: { id: "brief" } });
    const notice = await emu.waitFor("the cron notice", shown(BOB, "cron:brief:done"));
    expect(notice.text).toBe("🔔 cron:brief:done\nMorning brief: low tide at 9.");
  } finally {
    c.close();
  }
});

test("a daemon killed mid-answer: the new daemon's gateway finishes the reply in the same message as interrupted", async () => {
  const answer = "Sand, then shells, then more sand. The beach goes on and on, and the crab keeps walking along it.";
  fake.enqueue(pacedSse(openaiSse({ model: "fake-model", text: answer, textDeltas: 20 }), 250));
  await emu.send({ user: ALICE, text: "walk me along the beach" });
  const partial = await emu.waitFor("a partial reply", () =>
    emu.messages(ALICE).find((m) => m.text.startsWith("Sand, then") && m.text.length < answer.length),
  );
  await d.kill9();
  const getMes = emu.callsOf("getMe").length;
  d = await startDaemon({ home: d.home, config });
  await emu.waitFor("the gateway of the new daemon", () => emu.callsOf("getMe").length > getMes, 20_000);
  const done = await emu.waitFor("the reply closed as interrupted", () =>
    emu.messages(ALICE).find((m) => m.id === partial.id && m.text.includes("⏹ interrupted")),
  );
  // What the trace kept of the answer stays, in the same message; nothing was sent twice.
  expect(done.text.startsWith("Sand, then")).toBe(true);
  expect(emu.messages(ALICE).filter((m) => m.text.includes("Sand, then"))).toHaveLength(1);
  const chats = join(d.home, "gateways", "telegram", `chats-${emu.bot.id}.json`);
  await emu.waitFor(
    "the in-flight record cleared",
    () => !JSON.parse(readFileSync(chats, "utf8")).chats[ALICE].inflight,
  );
});
