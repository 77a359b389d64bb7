/**
 * `crabtalk attach` in a real terminal: tmux runs the compiled binary
 * against the daemon and the scripted model, the test types and reads the
 * screen back as plain text. Covers memory across turns, tool lines with
 * durations, Markdown, Ctrl-C cancelling a long tool, approvals answered
 * both ways, a daemon restart mid-session, and readable screens at 80 and
 * 120 columns (no escape debris, no overwritten or over-long lines).
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { binaryPath, runCrabtalk, startStack, Tmux } from "./cli-kit.ts";

const LONG = 60_000;

/** Plain-text screen checks: nothing left of an escape sequence, no spinner debris, nothing wider than the terminal. */
function expectClean(screen: string, cols: number): void {
  expect(screen).not.toContain("\x1b");
  expect(screen).not.toMatch(/\[\d+(;\d+)*m/);
  expect(screen).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
  for (const line of screen.split("\n")) expect(Bun.stringWidth(line)).toBeLessThanOrEqual(cols);
}

function lineOf(screen: string, re: RegExp): string {
  const line = screen.split("\n").find((l) => re.test(l));
  if (!line) throw new Error(`no line matching ${re} in:\n${screen}`);
  return line;
}

describe("crabtalk attach in tmux", () => {
  for (const cols of [80, 120]) {
    test(
      `two turns remembered, a tool line with duration, Markdown; readable at ${cols} columns`,
      async () => {
        await using stack = await startStack();
        await using tty = Tmux.start([binaryPath(), "attach"], { home: stack.home, cols });
        await tty.waitFor("/help for commands");
        tty.type("remember banana");
        await tty.waitFor("OK, I will remember banana.");
        tty.type("which word?");
        let screen = await tty.waitFor("The word was banana.");
        tty.type("run sleep 1");
        screen = await tty.waitFor(/ran it.*\n(.*\n)*─ /);
        tty.type("format");
        screen = await tty.waitFor(/Done\.\n─ /);

        // The second answer came from a request that carried the first turn.
        const second = stack.fake.requests.find((r) => JSON.stringify(r.body).includes("which word?"))!;
        expect(JSON.stringify(second.body)).toContain("remember banana");

        expectClean(screen, cols);
        expect(lineOf(screen, /^✓ bash sleep 1 · /)).toMatch(/^✓ bash sleep 1 · (0\.9|1\.\d|2\.\d)s$/);
        // A footer per turn: model and tokens.
        expect(screen.split("\n").filter((l) => /^─ gpt-4o-mini · \d+ in · \d+ out · /.test(l)).length).toBe(4);
        // Markdown: heading and bold without their markers, bullets, the code block kept.
        expect(screen).toContain("\nPlan\n");
        expect(screen).toContain("Here is bold and code:");
        expect(screen).toContain("• first item\n• second item");
        expect(screen).toContain("```js\nconst x = 1;\n```");
        // Prompts and answers in order, none overwritten.
        const order = [
          "› remember banana",
          "OK, I will remember banana.",
          "› which word?",
          "The word was banana.",
          "› run sleep 1",
          "✓ bash sleep 1",
          "› format",
          "Done.",
        ];
        let at = -1;
        for (const piece of order) {
          const i = screen.indexOf(piece, at + 1);
          expect(i).toBeGreaterThan(at);
          at = i;
        }

        tty.type("/exit");
        await tty.waitFor("[exited 0]");
        // History persisted for the next attach.
        expect(readFileSync(join(stack.home, "history"), "utf8")).toContain("remember banana\nwhich word?\n");
      },
      LONG,
    );
  }

  test(
    "Ctrl-C during a long tool cancels it and the prompt comes back; the REPL keeps working",
    async () => {
      await using stack = await startStack();
      await using tty = Tmux.start([binaryPath(), "attach"], { home: stack.home, cols: 80 });
      await tty.waitFor("/help for commands");
      tty.type("run sleep 30.517");
      await tty.waitFor(/bash sleep 30\.517 · [1-9]/);
      expect(spawnSync("pgrep", ["-f", "sleep 30.517"]).status).toBe(0);
      const before = Date.now();
      tty.keys("C-c");
      const screen = await tty.waitFor(/· cancelled\n›\s*$/, 15_000);
      expect(Date.now() - before).toBeLessThan(10_000);
      expectClean(screen, 80);
      expect(screen).toContain("cancelling…");
      expect(lineOf(screen, /^✗ bash sleep 30\.517/)).toMatch(/· \d/);
      // The sleep is gone.
      for (let i = 0; i < 50 && spawnSync("pgrep", ["-f", "sleep 30.517"]).status === 0; i++) await Bun.sleep(100);
      expect(spawnSync("pgrep", ["-f", "sleep 30.517"]).status).toBe(1);
      tty.type("hello again");
      await tty.waitFor("echo: hello again");
      // Ctrl-D on an empty prompt leaves.
      tty.keys("C-d");
      await tty.waitFor("[exited 0]");
    },
    LONG,
  );

  test(
    "an approval request becomes a prompt: allowed runs the tool, denied does not",
    async () => {
      await using stack = await startStack('\n[permissions]\nbash = "ask"\n');
      await using tty = Tmux.start([binaryPath(), "attach"], { home: stack.home, cols: 80 });
      await tty.waitFor("/help for commands");
      const marker = join(stack.home, "approved-marker");
      tty.type(`run touch ${marker}`);
      await tty.waitFor(/needs your approval\n\s+allow bash\? \[y\/N\]\s*$/);
      tty.type("y");
      let screen = await tty.waitFor(/ran it.*\n(.*\n)*─ /);
      expect(screen).toContain("allowed bash");
      expect(lineOf(screen, /^✓ bash touch/)).toMatch(/· \d+(ms|\.\ds)$/);
      expect(existsSync(marker)).toBe(true);

      const denied = join(stack.home, "denied-marker");
      tty.type(`run touch ${denied}`);
      await tty.waitFor(/touch \S+denied-marker needs your approval\n\s+allow bash\? \[y\/N\]\s*$/);
      tty.type("n");
      screen = await tty.waitFor(/denied by the user\n(.*\n)*─ .*\n›\s*$/);
      expect(screen).toContain("denied bash");
      expect(lineOf(screen, /^✗ bash touch \S+denied-marker/)).toBeTruthy();
      expect(existsSync(denied)).toBe(false);
      expectClean(screen, 80);
    },
    LONG,
  );

  test(
    "a daemon restart mid-session: attach reconnects, says so, and the next turn remembers",
    async () => {
      await using stack = await startStack();
      await using tty = Tmux.start([binaryPath(), "attach"], { home: stack.home, cols: 80 });
      await tty.waitFor("/help for commands");
      tty.type("remember walrus");
      await tty.waitFor("OK, I will remember walrus.");
      await stack.restart();
      await tty.waitFor(/reconnected: the daemon restarted/, 20_000);
      tty.type("which word?");
      const screen = await tty.waitFor("The word was walrus.");
      expect(screen).toContain("lost the connection to the daemon; reconnecting…");
      expectClean(screen, 80);
    },
    LONG,
  );

  test(
    "attach --session shows the recap and continues that session; --last picks the latest",
    async () => {
      await using stack = await startStack();
      {
        await using tty = Tmux.start([binaryPath(), "attach"], { home: stack.home, cols: 80 });
        await tty.waitFor("/help for commands");
        tty.type("remember otter");
        await tty.waitFor("OK, I will remember otter.");
        tty.type("/exit");
        await tty.waitFor("[exited 0]");
      }
      await using tty = Tmux.start([binaryPath(), "attach", "--last"], { home: stack.home, cols: 80 });
      let screen = await tty.waitFor("session 1 · /help");
      expect(screen).toContain("› remember otter");
      tty.type("which word?");
      screen = await tty.waitFor("The word was otter.");
      tty.type("/sessions");
      screen = await tty.waitFor(/●\s+1\s+4 msgs/);
      expectClean(screen, 80);
    },
    LONG,
  );

  test(
    "attach --session shows a turn another client started, in flight, and works over TCP",
    async () => {
      await using stack = await startStack("", true);
      expect((await runCrabtalk(stack.home, ["send", "remember seal"])).code).toBe(0);
      const other = runCrabtalk(stack.home, ["send", "--session", "1", "run sleep 2.25"]);
      for (let i = 0; i < 100 && !stack.fake.requests.some((r) => JSON.stringify(r.body).includes("sleep 2.25")); i++)
        await Bun.sleep(50);
      await Bun.sleep(300);
      await using tty = Tmux.start([binaryPath(), "attach", "--session", "1", "--tcp"], { home: stack.home, cols: 80 });
      let screen = await tty.waitFor("── turn from cli ──");
      screen = await tty.waitFor(/✓ bash sleep 2\.25 · 2\.\ds\nran it.*\n(.*\n)*─ .*\n›\s*$/);
      expect((await other).code).toBe(0);
      tty.type("which word?");
      screen = await tty.waitFor("The word was seal.");
      expectClean(screen, 80);
    },
    LONG,
  );

  test(
    "with stdin and stdout not a terminal, attach reads lines and prints plain text",
    async () => {
      await using stack = await startStack();
      const proc = Bun.spawn([binaryPath(), "attach"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: stack.home, CRABTALK_HOME: stack.home },
        stdin: new TextEncoder().encode("remember heron\nwhich word?\nrun echo hi\n"),
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect(code).toBe(0);
      expect(out).not.toContain("\x1b");
      expect(out).toContain("› remember heron\nOK, I will remember heron.\n─ gpt-4o-mini");
      expect(out).toContain("› which word?\nThe word was heron.\n");
      expect(out).toMatch(/› run echo hi\n✓ bash echo hi · \d+ms\nran it: hi/);
    },
    LONG,
  );
});
