/**
 * Issue 13 acceptance, no orphans and an orderly stop: the daemon's socket
 * answers while a service is still starting (start-up never waits for
 * one); kill -9 of the daemon leaves none of its children (extensions and
 * a gateway) behind; SIGTERM sends ExtShutdown, ends every child and
 * removes the service sockets. The gateway was given `serve --daemon
 * SOCKET --config JSON` and reached the daemon as a client; the secret in
 * its config (${VAR} from the environment) is in neither log nor its arguments.
 */
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { pidAlive, turnConfig, waitFor } from "../helpers/turn-kit.ts";
import { observed, serviceSection, services, waitState } from "./ext-kit.ts";

const SECRET = "gw-token-0123456789abcdef";

function config(home: string): string {
  return (
    turnConfig("http://127.0.0.1:9") +
    serviceSection("probe", "probe.ts", ["--record", join(home, "probe.jsonl")]) +
    serviceSection("reference", "reference.ts", []) +
    serviceSection("silent", "probe.ts", ["--name", "silent", "--no-handshake"]) +
    serviceSection(
      "gw",
      "gateway.ts",
      ["--record", join(home, "gw.jsonl")],
      'kind = "gateway"\nconfig = { token = "${SECRET}" }',
    )
  );
}

test("kill -9 of the daemon leaves no child behind; the socket served before any service was ready", async () => {
  const home = tempHome();
  const d = await startDaemon({ home, config: config(home), env: { SECRET } });
  try {
    const c = await d.client();
    // Ready to serve while "silent" has not (and never will) finish its handshake.
    expect((await services(c)).find((s) => s.name === "silent")?.status).toBe("starting");
    await waitState(c, "probe", "running");
    await waitState(c, "reference", "running");
    await waitState(c, "gw", "running");
    await waitFor(() => observed(join(home, "gw.jsonl")).some((o) => o.kind === "pong"), 10_000, "the gateway's ping");
    const argv = observed(join(home, "gw.jsonl")).find((o) => o.kind === "argv")!.argv as string[];
    // The secret stays out of the arguments (`ps` shows them to every user): ${VAR} as written, the
    // variable in the gateway's own environment (readable by its owner only).
    expect(argv.slice(-5)).toEqual(["serve", "--daemon", d.socket, "--config", '{"token":"${SECRET}"}']);
    expect(observed(join(home, "gw.jsonl")).find((o) => o.kind === "argv")!.secretEnv).toBe(SECRET);
    // The secret reached the gateway, but neither its log nor the daemon's.
    expect(readFileSync(join(home, "logs", "gw.log"), "utf8")).toContain('--config {"token":"${SECRET}"}');
    expect(readFileSync(join(home, "logs", "gw.log"), "utf8")).not.toContain(SECRET);
    expect(readFileSync(join(home, "logs", "daemon.log"), "utf8")).not.toContain(SECRET);
    // Nor the protocol: GetServices shows the secret-named value as ***.
    const gw = (await services(c)).find((s) => s.name === "gw")!;
    expect(gw.config).not.toContain(SECRET);
    expect(JSON.parse(gw.config)).toEqual({ token: "***" });
    const pids = (await services(c)).map((s) => s.pid).filter((p) => p > 0);
    expect(pids).toHaveLength(4);
    c.close();
    for (const pid of pids) expect(pidAlive(pid)).toBe(true);
    await d.kill9();
    await waitFor(() => pids.every((p) => !pidAlive(p)), 5000, `children ${pids.join(", ")} to exit`);
  } finally {
    await d.cleanup();
  }
});

test("SIGTERM: ExtShutdown reaches the extension, every child exits, service sockets are removed", async () => {
  const home = tempHome();
  const d = await startDaemon({ home, config: config(home), env: { SECRET } });
  try {
    const c = await d.client();
    await waitState(c, "probe", "running");
    await waitState(c, "reference", "running");
    await waitState(c, "gw", "running");
    // A gateway is "running" from its spawn; its pong says it got as far as handling SIGTERM.
    await waitFor(() => observed(join(home, "gw.jsonl")).some((o) => o.kind === "pong"), 10_000, "the gateway's ping");
    const pids = (await services(c)).map((s) => s.pid).filter((p) => p > 0);
    c.close();
    expect(existsSync(join(home, "services", "probe.sock"))).toBe(true);
    const t0 = Date.now();
    expect(await d.stop("SIGTERM")).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(observed(join(home, "probe.jsonl")).some((o) => o.kind === "shutdown")).toBe(true);
    expect(observed(join(home, "gw.jsonl")).some((o) => o.kind === "sigterm")).toBe(true);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    expect(existsSync(join(home, "services", "probe.sock"))).toBe(false);
    expect(existsSync(join(home, "services", "reference.sock"))).toBe(false);
  } finally {
    await d.cleanup();
  }
});
