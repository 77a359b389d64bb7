/**
 * A compiled daemon started for a benchmark and timed from spawn until its
 * socket answers a ping (the start-up figure benches compare), in a fresh
 * home with `config`; `stopTimed` ends it and removes the home.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CrabtalkClient } from "../src/client/client.ts";
import { binaryPath, tempHome } from "../test/helpers/daemon.ts";

export interface TimedDaemon {
  home: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** Spawn to first pong, ms. */
  ms: number;
}

export async function startTimed(config: string, prefix = "crabtalk-bench-"): Promise<TimedDaemon> {
  const home = tempHome(prefix);
  writeFileSync(join(home, "crabtalk.toml"), config);
  const t0 = performance.now();
  const proc = Bun.spawn([binaryPath(), "daemon"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  for (;;) {
    try {
      const c = await CrabtalkClient.connect({ home });
      await c.request({ ping: {} });
      c.close();
      return { home, proc, ms: performance.now() - t0 };
    } catch {
      if (performance.now() - t0 > 15_000) throw new Error("daemon did not start in 15 s");
      await Bun.sleep(2);
    }
  }
}

export async function stopTimed(d: TimedDaemon): Promise<void> {
  d.proc.kill("SIGTERM");
  await d.proc.exited;
  rmSync(d.home, { recursive: true, force: true });
}
