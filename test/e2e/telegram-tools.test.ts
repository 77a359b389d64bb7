/**
 * Issue 19 acceptance, the gateway's control of turns (compiled daemon,
 * gateway as a service, Bot API emulator, scripted model): /stop cancels a
 * running `bash sleep` (its process is gone), /new starts a new session,
 * `ask` tools are approved or denied with the buttons (no press = deny),
 * and a photo lands in the agent's inbox/ with its path in the model's
 * request (one over the size cap is refused before any download).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { binaryPath, startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { gatewaySection, pacedSse, TelegramEmulator } from "../helpers/telegram-emulator.ts";
import { contentText, lastUserText, messagesOf, pidAlive, toolResultsOf, turnConfig } from "../helpers/turn-kit.ts";

const ALICE = 111;
const CAROL = 333;

let fake: FakeProvider;
let emu: TelegramEmulator;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await FakeProvider.start();
  emu = await TelegramEmulator.start();
  d = await startDaemon({
    // 3 s to press: a press travels emulator -> gateway -> daemon, on a machine shared with other test runs.
    config: `${turnConfig(fake.url).replace("approval_timeout_ms = 1500", "approval_timeout_ms = 3000")}\n[permissions]\nwrite = "ask"\n${gatewaySection(binaryPath(), emu, { allowed: [ALICE, CAROL] })}`,
  });
  await emu.waitFor("the gateway's first getUpdates", () => emu.callsOf("getUpdates").length > 0);
});
afterAll(async () => {
  await d.cleanup();
  await emu.stop();
  await fake.stop();
});

const reply = (text: string) => sseReply(openaiSse({ model: "fake-model", text }));
const call = (id: string, name: string, args: Record<string, unknown>) =>
  sseReply(openaiSse({ model: "fake-model", toolCalls: [{ id, name, args }] }));
const shown = (chat: number, text: string) => () => emu.messages(chat).find((m) => m.text.includes(text));

test("/stop cancels a running `bash sleep`: its process is gone and the reply says stopped", async () => {
  const pidFile = join(d.home, "work", "sleeper.pid");
  fake.enqueue(call("call_sleep", "bash", { command: "echo $$ > sleeper.pid; exec sleep 30" }));
  await emu.send({ user: ALICE, text: "sleep a while" });
  const pid = await emu.waitFor("the sleeper's pid", () =>
    existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) || null : null,
  );
  expect(pidAlive(pid)).toBe(true);
  await emu.waitFor("the running tool line", shown(ALICE, "⏳ bash"));
  await emu.send({ user: ALICE, text: "/stop" });
  await emu.waitFor("the stop acknowledgement", shown(ALICE, "Stopping the answer on session"));
  await emu.waitFor("the sleeper to be gone", () => !pidAlive(pid));
  await emu.waitFor("the stopped reply", shown(ALICE, "⏹ stopped"));
});

test("/new starts a new session: the next message carries none of the old history", async () => {
  const before = fake.requests.length;
  fake.enqueue(reply("one noted"), reply("again noted"), reply("two noted"));
  await emu.send({ user: CAROL, text: "remember one" });
  await emu.waitFor("the first answer", shown(CAROL, "one noted"));
  await emu.send({ user: CAROL, text: "and again" });
  await emu.waitFor("the second answer", shown(CAROL, "again noted"));
  // Same session so far: the history goes along.
  expect(messagesOf(fake.requests[before + 1]!).some((m) => contentText(m) === "remember one")).toBe(true);
  await emu.send({ user: CAROL, text: "/new" });
  await emu.waitFor("the /new reply", shown(CAROL, "New session"));
  await emu.send({ user: CAROL, text: "two" });
  await emu.waitFor("the answer in the new session", shown(CAROL, "two noted"));
  const fresh = messagesOf(fake.requests[before + 2]!).filter((m) => m.role === "user");
  expect(fresh.map(contentText)).toEqual(["two"]);
});

/** Runs a turn whose model asks to write `file`; `press` picks the button (or none). */
async function askTurn(file: string, press: "Approve" | "Deny" | null, done: string): Promise<number> {
  const before = fake.requests.length;
  fake.enqueue(call(`call_${file}`, "write", { path: file, content: "hello" }), reply(done));
  await emu.send({ user: ALICE, text: `write ${file}` });

  const prompt = await emu.waitFor("the approval prompt", () =>
    emu.messages(ALICE).find((m) => m.buttons.length === 2 && m.text.includes(file)),
  );
  expect(prompt.buttons.map((b) => b.text)).toEqual(["Approve", "Deny"]);
  if (press) await emu.press(ALICE, ALICE, prompt.id, prompt.buttons.find((b) => b.text === press)!.data);
  await emu.waitFor("the answer after the tool", shown(ALICE, done));
  expect(fake.requests.length).toBe(before + 2);
  return prompt.id;
}

test("an `ask` tool approved with the button runs; another denied with the button does not, and the model reads why", async () => {
  const approvedId = await askTurn("approved.txt", "Approve", "wrote approved");
  expect(readFileSync(join(d.home, "work", "approved.txt"), "utf8")).toBe("hello");
  expect(emu.messages(ALICE).find((m) => m.id === approvedId)).toMatchObject({ text: "✓ approved write", buttons: [] });
  // The reply carries a line per tool call with its duration.
  expect(emu.messages(ALICE).some((m) => /^✓ write \d+\.\ds\nwrote approved$/.test(m.text))).toBe(true);

  const deniedId = await askTurn("denied.txt", "Deny", "did not write");
  expect(existsSync(join(d.home, "work", "denied.txt"))).toBe(false);
  expect(toolResultsOf(fake.requests.at(-1)!).at(-1)!.text).toMatch(/denied/i);
  expect(emu.messages(ALICE).find((m) => m.id === deniedId)).toMatchObject({ text: "✗ denied write", buttons: [] });
});

test("no press within the approval timeout means deny", async () => {
  const id = await askTurn("unanswered.txt", null, "gave up");
  expect(existsSync(join(d.home, "work", "unanswered.txt"))).toBe(false);
  expect(toolResultsOf(fake.requests.at(-1)!).at(-1)!.text).toMatch(/denied|timed out|no answer/i);
  await emu.waitFor("the prompt closed", () =>
    emu.messages(ALICE).find((m) => m.id === id && m.buttons.length === 0 && m.text.includes("no answer in time")),
  );
});

test("a photo lands in the agent's inbox/ and its path reaches the model; one over the cap is refused unread", async () => {
  const bytes = crypto.getRandomValues(new Uint8Array(5000));
  const file = emu.addFile(bytes);
  const before = fake.requests.length;
  fake.enqueue(reply("nice photo"));
  await emu.send({ user: CAROL, photo: file, caption: "what is this?" });
  await emu.waitFor("the answer", shown(CAROL, "nice photo"));
  const text = lastUserText(fake.requests[before]!);
  const path = /\[attached file: (.+)\]/.exec(text)?.[1];
  expect(text.startsWith("what is this?")).toBe(true);
  expect(path?.startsWith(join(d.home, "work", "inbox"))).toBe(true);
  expect(new Uint8Array(readFileSync(path!))).toEqual(bytes);
  expect(emu.callsOf("getFile").map((c) => c.body.file_id)).toEqual([file.fileId]);

  const big = emu.addFile(new Uint8Array(10));
  await emu.send({ user: CAROL, photo: { ...big, size: 25 * 1024 * 1024 }, caption: "and this" });
  await emu.waitFor("the refusal", shown(CAROL, "the limit is 20 MB"));
  expect(fake.requests.length).toBe(before + 1);
  expect(emu.callsOf("getFile")).toHaveLength(1);
  expect(readdirSync(join(d.home, "work", "inbox"))).toHaveLength(1);

  // Neither the update nor getFile says the size (both optional in the Bot API): the cap is counted while downloading.
  const undeclared = emu.addFile(new Uint8Array(21 * 1024 * 1024), "jpg", false);
  await emu.send({ user: CAROL, photo: undeclared, caption: "and this one" });
  await emu.waitFor("the refusal while downloading", shown(CAROL, "over the limit of 20 MB"));
  expect(fake.requests.length).toBe(before + 1);
  expect(readdirSync(join(d.home, "work", "inbox"))).toHaveLength(1);
});

test("a press answers only the prompt on its own message: the same button data from another message does nothing", async () => {
  const before = fake.requests.length;
  fake.enqueue(call("call_elsewhere.txt", "write", { path: "elsewhere.txt", content: "hello" }), reply("pressed"));
  await emu.send({ user: ALICE, text: "write elsewhere.txt" });
  const prompt = await emu.waitFor("the approval prompt", () =>
    emu.messages(ALICE).find((m) => m.buttons.length === 2 && m.text.includes("elsewhere.txt")),
  );
  const approve = prompt.buttons.find((b) => b.text === "Approve")!.data;
  // Same data, pressed on another message of the chat: refused as not open, the prompt stays.
  const other = emu.messages(ALICE).find((m) => m.id !== prompt.id)!;
  await emu.press(ALICE, ALICE, other.id, approve);
  await emu.waitFor("the refused press answered", () =>
    emu.callsOf("answerCallbackQuery").find((c) => String(c.body.text ?? "").includes("no longer open")),
  );
  expect(emu.messages(ALICE).find((m) => m.id === prompt.id)!.buttons).toHaveLength(2);
  await emu.press(ALICE, ALICE, prompt.id, approve);
  await emu.waitFor("the answer after the tool", shown(ALICE, "pressed"));
  expect(readFileSync(join(d.home, "work", "elsewhere.txt"), "utf8")).toBe("hello");
  expect(fake.requests.length).toBe(before + 2);
});

// Last in this file: the reply scripted for the stopped turn may stay unplayed (when the cancel lands before the model call).
// The daemon cannot drop one requester's turn while it waits in a session's queue: the gateway cancels it at its start.
test("/stop while the chat's turn waits behind another turn on its session cancels it; it never answers", async () => {
  const chats = join(d.home, "gateways", "telegram", `chats-${emu.bot.id}.json`);
  const session = JSON.parse(readFileSync(chats, "utf8")).chats[CAROL].sessions.crab as number;
  expect(session).toBeGreaterThan(0);
  const before = fake.requests.length;
  fake.enqueue(
    pacedSse(openaiSse({ model: "fake-model", text: "a long answer for another client", textDeltas: 10 }), 300),
    // Paced like a real model: the cancel sent at the turn's start lands before its answer is written.
    pacedSse(openaiSse({ model: "fake-model", text: "must never be shown in full", textDeltas: 10 }), 300),
  );
  // CAROL's chat is idle (the previous test's last job was a refusal): the next typing action is this turn's.
  // Another client's long turn holds the session: the chat's next turn waits in the daemon's queue behind it.
  const c = await d.client();
  try {
    const other = (async () => {
      for await (const r of c.stream({ stream: { agent: "crab", session, content: "elsewhere" } }))
        if (r.stream?.end) return r.stream.end.stopReason;
      return "";
    })();
    await fake.waitForRequests(before + 1);
    const typing = () => emu.callsOf("sendChatAction").filter((x) => Number(x.body.chat_id) === CAROL).length;
    const typed = typing();
    const stopped = emu.messages(CAROL).filter((m) => m.text.includes("⏹ stopped")).length;
    await emu.send({ user: CAROL, text: "and now?" });
    // The typing action goes out right after the gateway wrote its StreamMsg: the turn is asked for, not started.
    await emu.waitFor("the chat's turn asked for", () => typing() > typed);
    await emu.send({ user: CAROL, text: "/stop" });
    await emu.waitFor("the stop acknowledgement", shown(CAROL, "Stopping the answer before it starts"));
    await emu
      .waitFor(
        "the stopped reply",
        () => emu.messages(CAROL).filter((m) => m.text.includes("⏹ stopped")).length > stopped,
      )
      .catch((e) => {
        console.log(JSON.stringify(emu.messages(CAROL).map((m) => m.text)), d.stderr().slice(-3000));
        throw e;
      });
    // The other client's turn was not the one stopped.
    expect(await other).toBe("stop");
    expect(emu.messages(CAROL).some((m) => m.text.includes("must never be shown in full"))).toBe(false);
    expect(emu.messages(CAROL).some((m) => m.text === "Nothing is running.")).toBe(false);
  } finally {
    c.close();
  }
});
