/**
 * `crabtalk agents` and the start-up warning for grants that match nothing
 * yet, against the compiled daemon: grants are names, patterns or sources,
 * resolved against the tool registry as it is now.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { waitFor } from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";

let d: DaemonHandle;

beforeAll(async () => {
  d = await startDaemon({
    config: `[daemon]
tcp = false

[provider.local]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
models = ["m"]

[agents.crab]
model = "m"

[agents.researcher]
model = "m"
tools = ["read", "fs__*", "search/*", "b*"]
`,
  });
});
afterAll(async () => {
  await d.cleanup();
});

test("agents --json lists each grant with the tools it resolves to now", async () => {
  const r = await runCrabtalk(d.home, ["agents", "--json", "--socket", d.socket]);
  expect(r.code).toBe(0);
  const agents = JSON.parse(r.stdout) as {
    agent: string;
    model: string;
    grants: { grant: string; tools: string[] }[];
  }[];
  expect(agents.find((a) => a.agent === "crab")!.grants.map((g) => g.grant)).toEqual(["bash", "read", "write", "edit"]);
  expect(agents.find((a) => a.agent === "researcher")).toMatchObject({
    agent: "researcher",
    model: "m",
    grants: [
      { grant: "read", tools: ["read"] },
      { grant: "fs__*", tools: [] },
      { grant: "search/*", tools: [] },
      { grant: "b*", tools: ["bash"] },
    ],
  });
});

test("agents prints a readable table; grants that match nothing say so, and start-up warned about them", async () => {
  const r = await runCrabtalk(d.home, ["agents", "--socket", d.socket]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("researcher  (m)");
  expect(r.stdout).toMatch(/fs__\*\s+nothing yet/);
  expect(r.stdout).toMatch(/b\*\s+bash/);
  await waitFor(() => d.stderr().includes('grant "search/*" matches no tool yet'), 5000, "the start-up warning");
  await d.waitLog('agent researcher: grant "fs__*" matches no tool yet');
});
