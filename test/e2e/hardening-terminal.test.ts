/**
 * Issue 11 item 9, through the compiled binary on real terminals: model
 * text, thinking and tool output holding OSC 52 (clipboard), OSC 0 (window
 * title), CSI 2J (clear screen) and a C1 CSI reach `send`, `history`,
 * `replay` (under `script`, a pty whose raw bytes the test reads) and
 * `attach` (in tmux, its raw output captured with pipe-pane) only in
 * visible form ("^[]52;…"); the renderer's own styling is the only escape
 * code left. On a pipe, `send` keeps the model's exact text.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { binaryPath, startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply, type RecordedRequest } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { messagesOf, sessionOf, streamTurn, turnConfig, waitFor } from "../helpers/turn-kit.ts";
import { runCrabtalk, Tmux } from "./cli-kit.ts";

const EVIL = "start \x1b]52;c;cHduZWQ=\x07 title \x1b]0;pwned\x07 clear \x1b[2J c1 \u009b31m red \x1b[31m end-of-evil";
const EVIL_THINKING = "pondering \x1b]0;thought-title\x07 done";
/** What EVIL looks like on a terminal. */
const VISIBLE = "start ^[]52;c;cHduZWQ=^G title ^[]0;pwned^G clear ^[[2J c1 ^[[31m red ^[[31m end-of-evil";
const TOOL_COMMAND = "printf 'tool \\033]0;tool-title\\007 \\033[2J out\\n'; exit 3";

/** The model: "evil" calls bash (whose output is hostile too), then answers with EVIL; anything else is echoed. */
function hostile(req: RecordedRequest) {
  const messages = messagesOf(req);
  const last = messages.at(-1);
  if (last?.role === "tool") return sseReply(openaiSse({ thinking: EVIL_THINKING, text: EVIL, textDeltas: 7 }));
  if (last?.role === "user" && last.content === "evil")
    return sseReply(
      openaiSse({ toolCalls: [{ id: `call_${req.index}`, name: "bash", args: { command: TOOL_COMMAND } }] }),
    );
  return sseReply(openaiSse({ text: "plain" }));
}

/**
 * Runs the CLI on a pseudo-terminal (util-linux script) and returns every byte it wrote there. Async: the
 * fake provider answers from this same process.
 */
async function onPty(home: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const cmd = [binaryPath(), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const proc = Bun.spawn(["script", "-qec", cmd, "/dev/null"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home, TERM: "xterm-256color", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`crabtalk ${args.join(" ")} on a pty exited ${code}: ${out}${err}`);
  return out;
}

/** Raw terminal bytes: nothing the model or a tool wrote may act on the terminal. */
function expectNoHostileSequences(raw: string): void {
  expect(raw).not.toContain("\x1b]"); // no OSC at all: crabtalk never sends one
  expect(raw).not.toContain("\x1b[2J");
  expect(raw).not.toContain("\x07");
  expect(raw).not.toContain("\u009b");
}

let fake: FakeProvider;
let d: DaemonHandle;
let home: string;
let session = 0;

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route(hostile);
  home = tempHome("crabtalk-term-");
  d = await startDaemon({ home, config: turnConfig(fake.url, "") });
  // The session history, replay and attach show: one hostile turn, made over the wire.
  const c = await d.client();
  session = sessionOf(await streamTurn(c, { content: "evil" }));
  c.close();
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

describe("hostile text never reaches a terminal raw", () => {
  test("send on a terminal shows the sequences; on a pipe it keeps the exact text", async () => {
    const raw = await onPty(home, ["send", "evil"], { NO_COLOR: "1" });
    expect(raw).not.toContain("\x1b"); // colour off: not one escape byte, ours or the model's
    expect(raw).not.toContain("\u009b");
    expect(raw).toContain(VISIBLE);
    expect(raw).toMatch(/─ session \d+ · /);

    const piped = await runCrabtalk(home, ["send", "evil"]);
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe(`${EVIL}\n`);
  });

  test("history on a terminal: answer, thinking and tool output all visible, none raw", async () => {
    const raw = await onPty(home, ["history", String(session)], { NO_COLOR: "1" });
    expect(raw).not.toContain("\x1b");
    expect(raw).not.toContain("\u009b");
    expect(raw).toContain(VISIBLE);
    expect(raw).toContain("pondering ^[]0;thought-title^G done");
    expect(raw).toContain("tool ^[]0;tool-title^G ^[[2J out");
  });

  test("replay with colour on: only the renderer's own SGR codes remain", async () => {
    const raw = await onPty(home, ["replay", String(session)], { FORCE_COLOR: "1" });
    expectNoHostileSequences(raw);
    // Every escape left is styling: SGR (…m).
    const unstyled = raw.replace(/\x1b\[[0-9;]*m/g, "");
    expect(unstyled).not.toContain("\x1b");
    expect(unstyled).toContain(VISIBLE);
    expect(unstyled).toContain("pondering ^[]0;thought-title^G done");
    expect(unstyled).toContain("tool ^[]0;tool-title^G ^[[2J out");
  });

  test("attach in tmux: the raw pane output carries no hostile sequence; the screen shows them; the title is untouched", async () => {
    await using tty = Tmux.start([binaryPath(), "attach", "--session", String(session)], { home, cols: 200 });
    const log = join(home, "pane.raw");
    tty.pipeTo(log);
    await tty.waitFor("/help for commands");
    tty.type("evil");
    const screen = await tty.waitFor(/end-of-evil(.*\n)*─ /);
    await waitFor(() => existsSync(log) && readFileSync(log, "latin1").includes("end-of-evil"), 5000, "pane log");
    const raw = readFileSync(log, "utf8");
    expectNoHostileSequences(raw);
    expect(screen).toContain(VISIBLE);
    expect(tty.paneTitle()).not.toMatch(/pwned|thought-title|tool-title/);
  });
});
