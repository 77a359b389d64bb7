/**
 * The bash tool against real processes: exit codes, combined output, the
 * head+tail cap, the environment allow-list, and timeout/cancel killing the
 * whole process tree.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createBashTool } from "../../src/tools/bash.ts";
import { CappedOutput } from "../../src/tools/output.ts";
import { sweepNote } from "../../src/tools/process-tree.ts";
import { ctx, isGone, tempDir, waitForFile, waitGone } from "./helpers.ts";

describe("bash tool", () => {
  test("runs in the cwd, combines stdout and stderr, reports the exit code", async () => {
    await using dir = await tempDir();
    const bash = createBashTool(dir.path);
    const ok = await bash.execute({ command: "pwd; echo out; echo err >&2" }, ctx());
    expect(ok.isError).toBeFalsy();
    expect(ok.output).toBe(`${dir.path}\nout\nerr\n[exit code 0]`);
    const bad = await bash.execute({ command: "echo nope; exit 3" }, ctx());
    expect(bad).toEqual({ output: "nope\n[exit code 3]", isError: true });
    const quiet = await bash.execute({ command: "true" }, ctx());
    expect(quiet.output).toBe("(no output)\n[exit code 0]");
  });

  test("does not leak the daemon's secrets into the environment", async () => {
    await using dir = await tempDir();
    const bash = createBashTool(dir.path, {
      env: { ...process.env, OPENAI_API_KEY: "sk-secret-123", HOME: "/home/crab" },
    });
    const out = await bash.execute({ command: "env" }, ctx());
    expect(out.output).not.toContain("sk-secret-123");
    expect(out.output).not.toContain("OPENAI_API_KEY");
    expect(out.output).toContain("HOME=/home/crab");
    expect(out.output).toContain("PATH=");
  });

  test("output over the cap keeps head and tail with a note of what was cut", async () => {
    await using dir = await tempDir();
    const bash = createBashTool(dir.path, { maxOutputBytes: 1000 });
    // 2000 numbered lines of 10 bytes each: 20000 bytes.
    const out = await bash.execute(
      { command: "i=0; while [ $i -lt 2000 ]; do printf 'line %04d\\n' $i; i=$((i+1)); done" },
      ctx(),
    );
    expect(out.output).toStartWith("line 0000\nline 0001\n");
    expect(out.output).toContain("[... 19000 bytes cut from the middle of 20000 bytes of output;");
    expect(out.output).toEndWith("line 1999\n[exit code 0]");
    expect(out.output.length).toBeLessThan(1300);
  });

  test("timeout kills the whole process tree", async () => {
    await using dir = await tempDir();
    const bash = createBashTool(dir.path, { timeoutMs: 300, killGraceMs: 500 });
    const grandchildFile = join(dir.path, "grandchild.pid");
    const started = Date.now();
    const out = await bash.execute(
      { command: `sleep 30 & echo $! > ${grandchildFile}; echo $$ > ${join(dir.path, "sh.pid")}; echo started; wait` },
      ctx(),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(out.isError).toBe(true);
    expect(out.output).toBe("started\n[timed out after 0.3 s; the command's processes were killed]");
    const shPid = Number(await waitForFile(join(dir.path, "sh.pid")));
    const sleepPid = Number(await waitForFile(grandchildFile));
    expect(await waitGone(shPid)).toBe(true);
    expect(await waitGone(sleepPid)).toBe(true);
  });

  test("a timeout also kills a child that left the process group with setsid, and says so", async () => {
    await using dir = await tempDir();
    const bash = createBashTool(dir.path, { timeoutMs: 300, killGraceMs: 500 });
    const pidFile = join(dir.path, "escaped.pid");
    // setsid makes the sleep a new session leader: signalling the command's group cannot reach it.
    const out = await bash.execute({ command: `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 300' & wait` }, ctx());
    const pid = Number(await waitForFile(pidFile));
    expect(isGone(pid)).toBe(true);
    expect(out.isError).toBe(true);
    expect(out.output).toContain(
      `[timed out after 0.3 s; the command's processes were killed, including 1 that had left its process group (pid ${pid})]`,
    );
  });

  test("sweepNote reports survivors truthfully", () => {
    expect(sweepNote({ escapedKilled: [], survived: [] })).toBe("the command's processes were killed");
    expect(sweepNote({ escapedKilled: [7, 8], survived: [9] })).toBe(
      "the command's processes were killed, including 2 that had left its process group (pids 7, 8); but 1 process is still running despite SIGKILL (pid 9)",
    );
  });

  test("a grandchild that ignores SIGTERM gets SIGKILL after the grace period", async () => {
    await using dir = await tempDir();
    const bash = createBashTool(dir.path, { timeoutMs: 200, killGraceMs: 300 });
    const pidFile = join(dir.path, "stubborn.pid");
    await bash.execute(
      { command: `sh -c 'trap "" TERM; echo $$ > ${pidFile}; while :; do sleep 0.05; done' & wait` },
      ctx(),
    );
    const pid = Number(await waitForFile(pidFile));
    expect(await waitGone(pid, 3000)).toBe(true);
  });

  test("the per-call timeout argument is honoured and capped by the schema", async () => {
    await using dir = await tempDir();
    const bash = createBashTool(dir.path, { timeoutMs: 60_000, maxTimeoutMs: 120_000 });
    const out = await bash.execute({ command: "sleep 5", timeout: 1 }, ctx());
    expect(out.output).toContain("[timed out after 1 s;");
    const props = bash.parameters.properties as Record<string, Record<string, unknown>>;
    expect(props.timeout!.maximum).toBe(120);
  });

  test("abort kills the running command", async () => {
    await using dir = await tempDir();
    const bash = createBashTool(dir.path);
    const controller = new AbortController();
    const pidFile = join(dir.path, "pid");
    const running = bash.execute({ command: `echo $$ > ${pidFile}; sleep 30` }, ctx(controller.signal));
    const pid = Number(await waitForFile(pidFile));
    controller.abort();
    const out = await running;
    expect(out.isError).toBe(true);
    expect(out.output).toContain("[cancelled;");
    expect(await waitGone(pid)).toBe(true);
  });

  test("a missing working directory is a clear error", async () => {
    const bash = createBashTool("/nonexistent/crabtalk/dir");
    const out = await bash.execute({ command: "true" }, ctx());
    expect(out).toEqual({
      output: "cannot run the command: working directory /nonexistent/crabtalk/dir does not exist",
      isError: true,
    });
  });

  test("a background process left running does not hold the result", async () => {
    await using dir = await tempDir();
    const bash = createBashTool(dir.path);
    const pidFile = join(dir.path, "bg.pid");
    const started = Date.now();
    const out = await bash.execute({ command: `sleep 30 & echo $! > ${pidFile}; echo done` }, ctx());
    expect(Date.now() - started).toBeLessThan(2000);
    expect(out.output).toBe("done\n[exit code 0]");
    const pid = Number(await waitForFile(pidFile));
    process.kill(pid, "SIGKILL");
    expect(isGone(pid) || (await waitGone(pid))).toBe(true);
  });
});

describe("CappedOutput", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  test("under the cap everything is kept, in order, across chunks", () => {
    const o = new CappedOutput(10);
    o.push(enc("abc"));
    o.push(enc("defg"));
    expect(o.text()).toBe("abcdefg");
  });
  test("over the cap head and tail survive many small chunks", () => {
    const o = new CappedOutput(6);
    for (const ch of "abcdefghijklmnopqrstuvwxyz") o.push(enc(ch));
    expect(o.text()).toBe(
      "abc\n[... 20 bytes cut from the middle of 26 bytes of output; redirect the output to a file and read or grep it to see everything ...]\nxyz",
    );
  });
});
