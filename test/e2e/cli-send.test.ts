/**
 * The scriptable commands against the compiled daemon: `send` (answer,
 * stdin, --json event by event, errors on stderr with exit 1, approvals
 * denied rather than hanging), `events` / `--events` (turns started by
 * another client, and surviving a daemon restart) and `replay` (the
 * attach look from the trace, --json raw records, works with the daemon
 * down).
 */
import { describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaryPath, runCrabtalk, startStack } from "./cli-kit.ts";

const LONG = 60_000;

describe("crabtalk send", () => {
  test(
    "prints the answer; --json prints every event of the scripted turn in order; - reads stdin",
    async () => {
      await using stack = await startStack();
      const plain = await runCrabtalk(stack.home, ["send", "remember lynx"]);
      expect(plain).toMatchObject({ code: 0, stdout: "OK, I will remember lynx.\n" });

      const r = await runCrabtalk(stack.home, ["send", "--json", "--session", "1", "-"], { stdin: "run echo hi\n" });
      expect(r.code).toBe(0);
      const events = r.stdout
        .trim()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as { event: string; seq: number; session: number } & Record<string, Record<string, unknown>>,
        );
      // The scripted turn: start, model call ending in a tool call, the tool, a second call with text, end.
      const kinds = events.map((e) => e.event).filter((k, i, all) => k !== "chunk" || all[i - 1] !== "chunk");
      expect(kinds).toEqual([
        "start",
        "modelEnd",
        "toolStart",
        "toolResult",
        "toolsComplete",
        "chunk",
        "modelEnd",
        "end",
      ]);
      for (const e of events) expect(e.session).toBe(1);
      const seqs = events.map((e) => e.seq);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[0]! + i);
      expect(events[0]!.start).toMatchObject({ agent: "crab", session: 1, sender: "cli" });
      expect(events[2]!.toolStart).toMatchObject({
        calls: [{ name: "bash", arguments: JSON.stringify({ command: "echo hi" }) }],
      });
      expect(events[3]!.toolResult).toMatchObject({ name: "bash", isError: false });
      expect(String(events[3]!.toolResult!.output)).toContain("hi");
      const text = events
        .filter((e) => e.event === "chunk")
        .map((e) => e.chunk!.content)
        .join("");
      expect(text).toBe("ran it: hi\n[exit code 0]");
      expect(events.at(-1)!.end).toMatchObject({
        agent: "crab",
        stopReason: "stop",
        usage: { promptTokens: 80, completionTokens: 14 },
      });
    },
    LONG,
  );

  test(
    "errors: exit 1 with the error on stderr; usage errors exit 2; no daemon exits 1",
    async () => {
      await using stack = await startStack();
      const missing = await runCrabtalk(stack.home, ["send", "--session", "999", "hi"]);
      expect(missing.code).toBe(1);
      expect(missing.stdout).toBe("");
      expect(missing.stderr).toContain("session 999 not found");
      const badAgent = await runCrabtalk(stack.home, ["send", "--agent", "nobody", "hi"]);
      expect(badAgent.code).toBe(1);
      expect(badAgent.stderr).toContain('unknown agent "nobody"');
      stack.fake.route(() => ({
        kind: "error",
        status: 400,
        body: { error: { message: "model refused the request" } },
      }));
      const failed = await runCrabtalk(stack.home, ["send", "hello"]);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain("model refused the request");
      expect((await runCrabtalk(stack.home, ["send", "--session", "x", "hi"])).code).toBe(2);
      expect((await runCrabtalk(stack.home, ["send", "-"], { stdin: "   " })).code).toBe(2);
      await stack.daemon.stop();
      const down = await runCrabtalk(stack.home, ["send", "hi"]);
      expect(down.code).toBe(1);
      expect(down.stderr).toContain("crabtalk daemon is not running");
    },
    LONG,
  );

  test(
    "an approval cannot be answered from a script: denied at once, with a note on stderr",
    async () => {
      await using stack = await startStack('\n[permissions]\nbash = "ask"\n');
      const started = Date.now();
      const r = await runCrabtalk(stack.home, ["send", "run echo hi"]);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("denied bash");
      expect(r.stdout).toContain("ran it:");
      expect(r.stdout).not.toContain("ran it: hi");
    },
    LONG,
  );

  test(
    "output to a pipe closed early (`| head -c 10`) ends quietly with success, for the answer and for --json",
    async () => {
      await using stack = await startStack();
      // The model echoes the message: ~240 KB of answer, far past a pipe's 64 KiB, so writes meet the closed pipe.
      const input = join(stack.home, "big-message.txt");
      writeFileSync(input, `say ${"lorem ".repeat(40_000)}\n`);
      for (const flags of ["", "--json"]) {
        // Not spawnSync: the fake provider answering the daemon runs in this process.
        const proc = Bun.spawn(
          ["bash", "-c", `set -o pipefail; "$BIN" send ${flags} - < "$INPUT" | head -c 10 > /dev/null`],
          {
            env: {
              PATH: process.env.PATH ?? "/usr/bin:/bin",
              HOME: stack.home,
              CRABTALK_HOME: stack.home,
              BIN: binaryPath(),
              INPUT: input,
            },
            stdin: "ignore",
            stdout: "ignore",
            stderr: "pipe",
          },
        );
        const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
        expect({ flags, code, stderr }).toEqual({ flags, code: 0, stderr: "" });
      }
    },
    LONG,
  );
});

async function collect(
  proc: Subprocess<"ignore", "pipe", "pipe">,
): Promise<{ text: () => string; until: (re: RegExp, ms?: number) => Promise<string> }> {
  let text = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of proc.stdout) text += decoder.decode(chunk);
  })();
  return {
    text: () => text,
    async until(re, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (!re.test(text)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; got:\n${text}`);
        await Bun.sleep(50);
      }
      return text;
    },
  };
}

function spawnCli(home: string, args: string[]): Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn([binaryPath(), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

describe("crabtalk events", () => {
  test(
    "shows turns started by another client, keeps running across a daemon restart (--events alias)",
    async () => {
      await using stack = await startStack();
      const proc = spawnCli(stack.home, ["--events"]);
      try {
        const out = await collect(proc);
        await out.until(/watching every agent's events/);
        await runCrabtalk(stack.home, ["send", "run echo hi"]);
        // The done line and its answer preview may arrive in separate writes: wait for the preview.
        let text = await out.until(/■ done[^\n]*\n.*“ran it: hi \[exit code 0\]”/);
        expect(text).not.toContain("\x1b");
        expect(text).toMatch(/\d\d:\d\d:\d\d crab #1 ▶ turn started by cli\n/);
        expect(text).toMatch(/crab #1 ⚙ bash echo hi\n/);
        expect(text).toMatch(/crab #1 ✓ bash \d+ms\n/);
        expect(text).toMatch(/crab #1 ■ done · gpt-4o-mini · 40 in · 14 out · \d/);
        expect(text).toContain("“ran it: hi [exit code 0]”");

        await stack.restart();
        await out.until(/reconnected: watching events again/);
        await runCrabtalk(stack.home, ["send", "hello there"]);
        text = await out.until(/crab #2 ■ done[^\n]*\n.*“echo: hello there”/);
        expect(text).toContain("lost the connection to the daemon");
        expect(text).toContain("“echo: hello there”");
        expect(proc.exitCode).toBeNull();
      } finally {
        proc.kill();
        await proc.exited;
      }
    },
    LONG,
  );

  test(
    "--json prints one AgentEvent per line; --agent filters",
    async () => {
      await using stack = await startStack('\n[agents.other]\nmodel = "fake-model"\n');
      const proc = spawnCli(stack.home, ["events", "--json", "--agent", "other"]);
      try {
        const out = await collect(proc);
        await Bun.sleep(500);
        await runCrabtalk(stack.home, ["send", "--agent", "crab", "ignored"]);
        await runCrabtalk(stack.home, ["send", "--agent", "other", "seen"]);
        const text = await out.until(/"kind":"end"/);
        const lines = text
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { agent: string; kind: string; payload: { event: string } });
        expect(new Set(lines.map((l) => l.agent))).toEqual(new Set(["other"]));
        expect(lines[0]!.kind).toBe("start");
        expect(lines.at(-1)!.kind).toBe("end");
        // kind is the proto case name (model_end), payload.event the generated field name (modelEnd).
        for (const l of lines) expect(l.payload.event.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)).toBe(l.kind);
      } finally {
        proc.kill();
        await proc.exited;
      }
    },
    LONG,
  );
});

describe("crabtalk replay", () => {
  test(
    "renders the trace like attach (tools, tokens per call, totals) and --json prints the raw records, daemon down",
    async () => {
      await using stack = await startStack();
      await runCrabtalk(stack.home, ["send", "remember puffin"]);
      await runCrabtalk(stack.home, ["send", "--session", "1", "run sleep 0.3"]);
      await stack.daemon.stop();
      const r = await runCrabtalk(stack.home, ["replay", "1"]);
      expect(r.code).toBe(0);
      const out = r.stdout;
      expect(out).not.toContain("\x1b");
      expect(out).toMatch(/^session 1 · agent crab · created by cli · /);
      expect(out).toMatch(
        /\n› remember puffin {2}\d{4}-\d\d-\d\d \d\d:\d\d\nOK, I will remember puffin\.\n {2}· gpt-4o-mini call: 10 in · 7 out\n─ gpt-4o-mini · 10 in · 7 out · \d+ms\n/,
      );
      expect(out).toMatch(/\n✓ bash sleep 0\.3 · ([3-9]\d\dms|\d\.\ds)\n/);
      expect(out).toContain("\ntotals 2 turn(s) · 3 model call(s) · 1 tool call(s) · ");
      for (const line of out.split("\n")) expect(Bun.stringWidth(line)).toBeLessThan(80);

      const raw = await runCrabtalk(stack.home, ["replay", "1", "--json"]);
      const records = raw.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { kind: string; event?: { type: string } });
      expect(records[0]!.kind).toBe("meta");
      expect(records.filter((x) => x.kind === "event" && x.event!.type === "end").length).toBe(2);
      expect(records.filter((x) => x.kind === "message").length).toBe(6); // user, answer, user, tool call, tool result, answer

      expect((await runCrabtalk(stack.home, ["replay", "42"])).code).toBe(1);
      expect((await runCrabtalk(stack.home, ["replay", "nope"])).code).toBe(2);
    },
    LONG,
  );
});
