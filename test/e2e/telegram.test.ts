/**
 * Issue 19 acceptance, the Telegram gateway run by the compiled daemon as a
 * `kind = "gateway"` service against the Bot API emulator
 * (test/helpers/telegram-emulator.ts) and a scripted model: streaming with
 * throttled edits, deny by default, long answers split at boundaries, and
 * chats that never wait for each other.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { binaryPath, startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { errorReply, FakeProvider, gate, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { gatewaySection, pacedSse, TelegramEmulator } from "../helpers/telegram-emulator.ts";
import { lastUserText, turnConfig } from "../helpers/turn-kit.ts";

const ALICE = 111;
const BOB = 222;
const STRANGER = 999;

let fake: FakeProvider;
let emu: TelegramEmulator;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await FakeProvider.start();
  emu = await TelegramEmulator.start();
  d = await startDaemon({
    config:
      turnConfig(fake.url, '\n[agents.scout]\nmodel = "fake-model"\n') +
      gatewaySection(binaryPath(), emu, { allowed: [ALICE, BOB] }),
  });
  await emu.waitFor("the gateway's first getUpdates", () => emu.callsOf("getUpdates").length > 0);
});
afterAll(async () => {
  await d.cleanup();
  await emu.stop();
  await fake.stop();
});

const gatewayLog = () => readFileSync(join(d.home, "logs", "telegram.log"), "utf8");

test("an allowed user's message gets a streamed answer: one message, several edits a second apart, the exact final text", async () => {
  const answer = "Crabs walk sideways. They have ten legs! And (mostly) hard shells - see below.";
  fake.enqueue(
    pacedSse(openaiSse({ model: "fake-model", text: answer, textDeltas: 8, thinking: "private musings" }), 400),
  );
  await emu.send({ user: ALICE, text: "tell me about crabs" });
  const final = await emu.waitFor("the final answer", () =>
    emu.messages(ALICE).find((m) => m.text === answer && m.parseMode === "MarkdownV2"),
  );
  expect(emu.messages(ALICE)).toHaveLength(1);
  expect(final.text).toBe(answer);
  const writes = emu.calls.filter(
    (c) => (c.method === "sendMessage" || c.method === "editMessageText") && Number(c.body.chat_id) === ALICE,
  );
  expect(writes.filter((c) => c.method === "editMessageText").length).toBeGreaterThanOrEqual(2);
  // At most about one edit a second (the final pass may follow the last streamed edit sooner: it is throttled too).
  for (let i = 1; i < writes.length; i++) expect(writes[i]!.at - writes[i - 1]!.at).toBeGreaterThanOrEqual(950);
  expect(emu.callsOf("sendChatAction", ALICE).some((c) => c.body.action === "typing")).toBe(true);
  expect(lastUserText(fake.requests.at(-1)!)).toBe("tell me about crabs");
  // Thinking is hidden: no write ever carried it.
  expect(writes.some((c) => String(c.body.text).includes("musings"))).toBe(false);
});

test("a user not in allowed_users gets nothing, costs no provider request, and their id is logged", async () => {
  const before = fake.requests.length;
  await emu.send({ user: STRANGER, text: "let me in" });
  await emu.waitFor("the refusal in the gateway's log", () => gatewayLog().includes(`refused user ${STRANGER}`));
  expect(fake.requests.length).toBe(before);
  expect(emu.messages(STRANGER)).toEqual([]);
  expect(emu.calls.some((c) => Number(c.body.chat_id) === STRANGER)).toBe(false);
  // The bot token never reaches a log.
  expect(gatewayLog()).not.toContain(emu.token);
  expect(d.stderr()).not.toContain(emu.token);
});

test("a 10,000-character answer arrives as three or more messages cut at paragraph breaks, nothing lost", async () => {
  const paras = Array.from(
    { length: 44 },
    (_, i) => `Part ${i + 1}. ${"Crabs molt to grow; each molt leaves a shell behind! ".repeat(4)}(end ${i + 1})`,
  );
  const answer = paras.join("\n\n");
  expect(answer.length).toBeGreaterThanOrEqual(10_000);
  fake.enqueue(pacedSse(openaiSse({ model: "fake-model", text: answer, textDeltas: 6 }), 300));
  await emu.send({ user: BOB, text: "everything about molting" });
  const shown = await emu.waitFor("the whole answer", () => {
    const ms = emu.messages(BOB);
    return ms.length >= 3 && ms.map((m) => m.text).join("\n\n") === answer ? ms : null;
  });
  expect(shown.length).toBeGreaterThanOrEqual(3);
  for (const m of shown) {
    expect(m.text.length).toBeLessThanOrEqual(4096);
    expect(m.text).toMatch(/^Part \d+\./);
    expect(m.text).toMatch(/\(end \d+\)$/);
  }
});

test("in a group only an allowed user's message that mentions the bot or replies to it is served", async () => {
  const GROUP = -100777;
  const before = fake.requests.length;
  fake.enqueue(
    sseReply(openaiSse({ model: "fake-model", text: "mentioned" })),
    sseReply(openaiSse({ model: "fake-model", text: "replied" })),
  );
  await emu.send({ user: ALICE, chat: GROUP, chatType: "supergroup", text: "just chatting, not for the bot" });
  await emu.send({ user: STRANGER, chat: GROUP, chatType: "supergroup", text: "@TestNameBot serve me" });
  await emu.send({ user: BOB, chat: GROUP, chatType: "supergroup", text: "@TestNameBot what is a crab?" });
  await emu.waitFor("the answer to the mention", () => emu.messages(GROUP).some((m) => m.text === "mentioned"));
  await emu.send({ user: ALICE, chat: GROUP, chatType: "supergroup", text: "and a lobster?", replyTo: 1 });
  await emu.waitFor("the answer to the reply", () => emu.messages(GROUP).some((m) => m.text === "replied"));
  expect(fake.requests.slice(before).map(lastUserText)).toEqual(["what is a crab?", "and a lobster?"]);
  expect(gatewayLog()).toContain(`refused user ${STRANGER}`);
});

test("a failed turn shows a short readable error line", async () => {
  fake.enqueue(
    errorReply(400, { error: { message: "This model's maximum context length is exceeded.\nDetails follow." } }),
  );
  await emu.send({ user: BOB, text: "too much" });
  const line = await emu.waitFor("the error line", () => emu.messages(BOB).find((m) => m.text.startsWith("⚠")));
  expect(line.text).toContain("maximum context length");
  expect(line.text).not.toContain("Details follow");
  expect(line.text.length).toBeLessThan(400);
});

test("two chats with long turns run at once: the second chat's turn starts while the first is still answering", async () => {
  const both = gate();
  const before = fake.requests.length;
  fake.route((req) => {
    const who = lastUserText(req);
    return {
      ...pacedSse(openaiSse({ model: "fake-model", text: `answer for ${who}`, textDeltas: 3 }), 200),
      gate: both.promise,
    };
  });
  try {
    await emu.send({ user: ALICE, text: "long job A" });
    await emu.send({ user: BOB, text: "long job B" });
    // Both model requests arrive while neither has been answered: had the chats shared one loop, B would wait for A forever.
    await fake.waitForRequests(before + 2);
    expect(fake.requests.slice(before).map(lastUserText).sort()).toEqual(["long job A", "long job B"]);
    both.release();
    await emu.waitFor(
      "both answers",
      () =>
        emu.messages(ALICE).some((m) => m.text === "answer for long job A") &&
        emu.messages(BOB).some((m) => m.text === "answer for long job B"),
    );
  } finally {
    both.release();
    fake.route(() => undefined);
  }
});

test("a message sent while the chat's turn runs is queued, the user is told, and it runs next", async () => {
  const first = gate();
  const before = fake.requests.length;
  fake.enqueue(
    sseReply(openaiSse({ model: "fake-model", text: "first done" }), { gate: first.promise }),
    sseReply(openaiSse({ model: "fake-model", text: "second done" })),
  );
  await emu.send({ user: ALICE, text: "first" });
  await fake.waitForRequests(before + 1);
  await emu.send({ user: ALICE, text: "second" });
  await emu.waitFor("the queued notice", () => emu.messages(ALICE).some((m) => m.text.startsWith("Queued: 1 ahead")));
  expect(fake.requests.length).toBe(before + 1);
  first.release();
  await emu.waitFor("the second answer", () => emu.messages(ALICE).some((m) => m.text === "second done"));
  expect(fake.requests.slice(before).map(lastUserText)).toEqual(["first", "second"]);
  const texts = emu.messages(ALICE).map((m) => m.text);
  expect(texts.indexOf("first done")).toBeLessThan(texts.indexOf("second done"));
});

test("/agent switches the chat's agent, /status shows agent, session and tokens today, /sessions lists the chat's sessions", async () => {
  const last = () => emu.messages(ALICE).at(-1)?.text ?? "";
  const ask = async (text: string, expectStart: string) => {
    const count = emu.messages(ALICE).length;
    await emu.send({ user: ALICE, text });
    return emu.waitFor(
      `the reply to ${text}`,
      () => emu.messages(ALICE).length > count && last().startsWith(expectStart) && last(),
    );
  };
  expect(await ask("/agent", "Agent: crab.")).toContain("Available: crab, scout");
  expect(await ask("/agent nobody", "No agent")).toContain('No agent "nobody"');
  await ask("/agent scout", "Agent: scout (a new session starts");
  fake.enqueue(sseReply(openaiSse({ model: "fake-model", text: "scout here" })));
  await ask("hello scout", "scout here");
  const status = await ask("/status", "Agent: scout");
  const session = Number(/Session: (\d+)/.exec(status)?.[1]);
  expect(status).toContain("Tokens today (scout): 15");
  const c = await d.client();
  try {
    const list = (await c.request({ sessions: {} })).sessions?.sessions ?? [];
    expect(list.find((s) => Number(s.id) === session)?.agent).toBe("scout");
  } finally {
    c.close();
  }
  const sessions = await ask("/sessions", "Recent sessions:");
  expect(sessions).toContain(`▶ ${session} scout`);
  expect(sessions).toMatch(/• \d+ crab/);
  expect(await ask("/agent crab", "Agent: crab")).toContain("continuing session");
});
