/**
 * Reload with running components, against the compiled daemon: an
 * extension and an MCP server whose settings did not change keep their
 * process (same pid, tools still answering); a changed one is restarted;
 * a removed one stops and its tools are gone; an added one starts. After
 * each reload the MCP grants still hold (the settings a reload builds
 * include the servers' tools).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";
import { pidAlive, streamTurn, toolResultsOf, turnConfig, waitFor } from "../helpers/turn-kit.ts";
import { PROBE, scriptCall, server, stdioServer } from "../mcp/kit.ts";
import { service, serviceSection, waitState } from "./ext-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;

function config(extra: { svcB?: string; mcpB?: string; withC?: boolean } = {}): string {
  return turnConfig(
    fake.url,
    `tools = ["*"]
mcp = ["ma", "mb"${extra.withC ? ', "mc"' : ""}]

${serviceSection("sa", "probe.ts", [])}
${serviceSection("sb", "probe.ts", extra.svcB ? [extra.svcB] : [])}
${stdioServer("ma", PROBE, [], "eager = true")}
${stdioServer("mb", PROBE, extra.mcpB ? [extra.mcpB] : [], "eager = true")}
${extra.withC ? stdioServer("mc", PROBE, [], "eager = true") : ""}
`,
  );
}

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({ config: config() });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

test("unchanged extension and MCP server keep their pid; changed ones restart; added and removed ones follow", async () => {
  const c = await d.client();
  const sa = await waitState(c, "sa", "running");
  const sb = await waitState(c, "sb", "running");
  await waitFor(async () => (await server(c, "ma")).state === "ready", 15_000, "mcp ma ready");
  await waitFor(async () => (await server(c, "mb")).state === "ready", 15_000, "mcp mb ready");
  const ma = await server(c, "ma");
  const mb = await server(c, "mb");

  // Change sb's args and mb's args; leave sa and ma alone; add mc.
  writeFileSync(join(d.home, "crabtalk.toml"), config({ svcB: "--changed", mcpB: "--changed", withC: true }));
  const report = (await c.request({ reload: {} })).reloaded!;
  expect(report.changes).toEqual(
    expect.arrayContaining([
      "service sb changed: restarted",
      "mcp server mb changed: reconnects",
      "mcp server mc added",
    ]),
  );
  expect(report.changes.join("\n")).not.toMatch(/\bsa\b|mcp server ma\b/);

  // Unchanged: same processes, still serving.
  expect((await service(c, "sa")).pid).toBe(sa.pid);
  expect((await server(c, "ma")).pid).toBe(ma.pid);
  expect(pidAlive(sa.pid)).toBe(true);
  // Changed: a new process each.
  const sb2 = await waitState(c, "sb", "running", 15_000, (s) => s.pid !== sb.pid);
  expect(sb2.pid).not.toBe(sb.pid);
  await waitFor(() => !pidAlive(sb.pid), 10_000, "the old sb process to exit");
  await waitFor(
    async () => {
      const now = await server(c, "mb");
      return now.state === "ready" && now.pid !== mb.pid;
    },
    15_000,
    "mb to reconnect with a new process",
  );
  await waitFor(() => !pidAlive(mb.pid!), 10_000, "the old mb process to exit");
  await waitFor(async () => (await server(c, "mc")).state === "ready", 15_000, "the added mc to start");

  // Grants still hold after the reload: the agent calls an MCP tool of the unchanged server.
  const tools = (await server(c, "ma")).tools.map((t) => t.name);
  expect(tools.length).toBeGreaterThan(0);
  const echo = tools.find((t) => t.includes("echo")) ?? tools[0]!;
  scriptCall(fake, echo, { message: "after reload" });
  const before = fake.requests.length;
  const events = await streamTurn(c, { content: "use ma" });
  const result = events.find((e) => e.toolResult)!.toolResult!;
  expect(result.output).not.toContain("not granted");
  expect(result.output).not.toContain("unknown tool");
  expect(toolResultsOf(fake.requests[before + 1]!)).toHaveLength(1);

  // Removed: back to the first config without mc and with sb unchanged from before the first reload.
  writeFileSync(join(d.home, "crabtalk.toml"), config());
  const second = (await c.request({ reload: {} })).reloaded!;
  expect(second.changes).toEqual(expect.arrayContaining(["mcp server mc removed"]));
  expect((await service(c, "sa")).pid).toBe(sa.pid);
  c.close();
}, 90_000);
