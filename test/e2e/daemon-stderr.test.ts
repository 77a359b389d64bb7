/**
 * The daemon writes its log lines to fd 2 itself, synchronously, instead of
 * through process.stderr (src/daemon/logging.ts; that stream cost about
 * 1 MB of idle RSS, issue 20). What that must keep: a daemon whose stderr
 * reader has gone (a closed pipe: EPIPE on every write) starts, serves,
 * reloads and stops as usual, and its log file still holds every line.
 */
import { expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaryPath, tempHome } from "../helpers/daemon.ts";
import { CrabtalkClient } from "../../src/client/client.ts";
import { turnConfig, waitFor } from "../helpers/turn-kit.ts";

/** Whether the daemon in `home` answers a ping now. */
async function answers(home: string): Promise<boolean> {
  try {
    const client = await CrabtalkClient.connect({ home });
    await client.request({ ping: {} });
    client.close();
    return true;
  } catch {
    return false;
  }
}

test("a daemon whose stderr pipe was closed serves, reloads and stops; daemon.log has every line", async () => {
  const home = tempHome();
  writeFileSync(join(home, "crabtalk.toml"), turnConfig("http://127.0.0.1:9"));
  const proc = Bun.spawn([binaryPath(), "daemon"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  // Closing our end before the daemon writes anything: each of its stderr writes meets EPIPE.
  await proc.stderr.cancel();
  const logFile = join(home, "logs", "daemon.log");
  const log = () => readFileSync(logFile, "utf8");
  try {
    await waitFor(async () => proc.exitCode !== null || (await answers(home)), 15_000, "the daemon to answer");
    expect(proc.exitCode).toBeNull();
    expect(log()).toContain("listening on");

    proc.kill("SIGHUP");
    await waitFor(() => log().includes("SIGHUP received"), 10_000, "the SIGHUP line in daemon.log");
    const client = await CrabtalkClient.connect({ home });
    const status = await client.request({ status: {} });
    expect(status.status?.agents.map((a) => a.agent)).toEqual(["crab"]);
    client.close();

    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(log()).toContain("stopped");
  } finally {
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await proc.exited;
    rmSync(home, { recursive: true, force: true });
  }
}, 30_000);
