/**
 * Issue 13 acceptance, lifecycle through the compiled daemon: restart
 * policies never / on_failure / always observed, the backoff (1 s doubling)
 * measured from the service's own log, a crash loop ending in `failed` with
 * the last exit code and the last lines of its output, and the CLI:
 * `crabtalk services [--json]`, `services logs NAME`, `services restart NAME`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import { binaryPath, runCli, startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { turnConfig, waitFor } from "../helpers/turn-kit.ts";
import { service, serviceSection, waitState } from "./ext-kit.ts";

let d: DaemonHandle;
let c: CrabtalkClient;
let started = 0;

beforeAll(async () => {
  started = Date.now();
  d = await startDaemon({
    config:
      turnConfig("http://127.0.0.1:9") +
      serviceSection("never3", "probe.ts", ["--exit-at-start", "3"], 'restart = "never"') +
      serviceSection("onfail0", "probe.ts", ["--exit-at-start", "0"], 'restart = "on_failure"') +
      serviceSection("always0", "probe.ts", ["--exit-at-start", "0"], 'restart = "always"') +
      serviceSection("loop5", "probe.ts", ["--exit-at-start", "5"], 'restart = "on_failure"') +
      serviceSection("healthy", "probe.ts", ["--name", "healthy"]),
  });
  c = await d.client();
});
afterAll(async () => {
  c?.close();
  await d.cleanup();
});

/** Times (ms since epoch) at which the daemon started the service, from its log. */
function startTimes(name: string): number[] {
  const text = readFileSync(join(d.home, "logs", `${name}.log`), "utf8");
  return text
    .split("\n")
    .filter((l) => l.includes(" daemon started (pid "))
    .map((l) => Date.parse(l.slice(0, l.indexOf(" "))));
}

test('restart = "never": an exit with code 3 ends in failed, never restarted', async () => {
  const s = await waitState(c, "never3", "failed");
  expect(s.restarts).toBe(0);
  expect(s.lastExitCode).toBe(3);
  expect(s.lastError).toContain("exited with code 3");
});

test('restart = "on_failure": a clean exit is not restarted', async () => {
  const s = await waitState(c, "onfail0", "stopped");
  expect(s.restarts).toBe(0);
  expect(s.lastExitCode).toBe(0);
});

/**
 * For each restart, the ms from the daemon logging the exit ("...; restarting
 * in N ms") to it logging the next start: the backoff alone, without the
 * time the process took to start and exit (seconds for bun on a loaded machine).
 */
function restartGaps(name: string): number[] {
  const lines = readFileSync(join(d.home, "logs", `${name}.log`), "utf8").split("\n");
  const at = (l: string) => Date.parse(l.slice(0, l.indexOf(" ")));
  const gaps: number[] = [];
  let exitedAt: number | null = null;
  for (const l of lines) {
    if (l.includes(" daemon ") && l.includes("; restarting in ")) exitedAt = at(l);
    else if (l.includes(" daemon started (pid ") && exitedAt !== null) {
      gaps.push(at(l) - exitedAt);
      exitedAt = null;
    }
  }
  return gaps;
}

test('restart = "always": clean exits are restarted with a backoff of 1 s, 2 s, 4 s', async () => {
  await waitFor(() => startTimes("always0").length >= 4, 30_000, "four starts of always0");
  const gaps = restartGaps("always0");
  expect(gaps.length).toBeGreaterThanOrEqual(3);
  for (const [i, floor] of [1000, 2000, 4000].entries()) {
    expect(gaps[i]!).toBeGreaterThanOrEqual(floor);
    expect(gaps[i]!).toBeLessThan(floor + 1500);
  }
  expect((await service(c, "always0")).restarts).toBeGreaterThanOrEqual(3);
});

test("a crash loop ends in failed with the last exit code and the last lines of its output", async () => {
  const s = await waitState(c, "loop5", "failed", 30_000);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000 + 2000 + 4000 + 8000);
  expect(s.restarts).toBe(4);
  expect(s.lastExitCode).toBe(5);
  expect(s.lastError).toContain("crash loop");
  expect(s.lastError).toContain("probe probe: exiting with 5 as asked");
  expect(startTimes("loop5")).toHaveLength(5);
});

test("crabtalk services [--json], services logs NAME, services restart NAME", async () => {
  const env = { CRABTALK_HOME: d.home, HOME: d.home };
  const before = await waitState(c, "healthy", "running");
  const json = await runCli(["services", "--json"], env);
  expect(json.code).toBe(0);
  const listed = JSON.parse(json.stdout) as { name: string; status: string; pid: number }[];
  expect(listed.find((s) => s.name === "healthy")).toMatchObject({ status: "running", pid: before.pid });
  const text = await runCli(["services"], env);
  expect(text.stdout).toMatch(/^healthy {2}running pid \d+ up \d+s {2}restarts 0/m);
  expect(text.stdout).toContain("tools         healthy_echo");
  const logs = await runCli(["services", "logs", "healthy", "-n", "5"], env);
  expect(logs.code).toBe(0);
  expect(logs.stdout).toContain("daemon running: capabilities tools, query");
  // `logs -f` follows the file: it prints the lines the restart writes. It
  // prints the last line first, so its output says it has read the file's
  // end and follows from there before the restart writes anything.
  const follow = Bun.spawn([binaryPath(), "services", "logs", "healthy", "-f", "-n", "1"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "ignore",
  });
  let followed = "";
  void (async () => {
    for await (const chunk of follow.stdout) followed += new TextDecoder().decode(chunk);
  })();
  await waitFor(() => followed.length > 0, 10_000, "logs -f to print the log's last line");
  const restart = await runCli(["services", "restart", "healthy"], env);
  expect(restart.code).toBe(0);
  expect(restart.stdout).toContain("healthy: restarting");
  const after = await waitState(c, "healthy", "running", 15_000, (s) => s.pid !== before.pid);
  expect(after.pid).toBeGreaterThan(0);
  await waitFor(() => followed.includes(`daemon started (pid ${after.pid})`), 5000, "logs -f to print the new start");
  expect(followed).toContain("daemon restart requested");
  expect(followed).toContain("daemon stopped (it was running)");
  follow.kill();
  await follow.exited;
  const unknown = await runCli(["services", "restart", "nope"], env);
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain('no service is called "nope"');
});
