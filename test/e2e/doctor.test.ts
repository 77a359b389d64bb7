/**
 * `crabtalk doctor` against the compiled binary: a healthy home with a
 * running daemon and a reachable provider passes (exit 0); a broken one
 * (open permissions, a stale lock and socket, an unreachable provider, a key
 * the provider refuses) reports each problem with its fix (exit 1), and
 * `--fix` repairs the safe ones.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";
import { runCrabtalk } from "./cli-kit.ts";

let fake: FakeProvider;

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route((req) =>
    req.headers.authorization === "Bearer sk-refused-key-000"
      ? { kind: "error", status: 401, body: { error: { message: "invalid api key" } } }
      : { kind: "body", body: '{"object":"list","data":[]}', contentType: "application/json" },
  );
});
afterAll(async () => {
  await fake.stop();
});

const config = (url: string, key = "sk-good-key-123") => `[daemon]
tcp = false

[provider.fake]
kind = "openai"
base_url = "${url}/v1"
api_key = "${key}"
models = ["fake-model"]
`;

interface Finding {
  check: string;
  status: string;
  detail: string;
  fix?: string;
  repairable: boolean;
}

test("a healthy home passes: exit 0, every check ok or skipped", async () => {
  await using d = await startDaemon({ config: config(fake.url) });
  chmodSync(join(d.home, "crabtalk.toml"), 0o600); // the test helper writes it with the default umask
  const r = await runCrabtalk(d.home, ["doctor", "--json"]);
  const findings = JSON.parse(r.stdout) as Finding[];
  expect(findings.filter((f) => f.status === "fail")).toEqual([]);
  expect(r.code).toBe(0);
  expect(findings.find((f) => f.check === "provider fake")).toMatchObject({ status: "ok" });
  expect(findings.find((f) => f.check === "daemon")!.detail).toContain("running, version");
  expect(findings.find((f) => f.check === "systemd unit")).toBeDefined();
  expect(fake.requests.some((q) => q.path === "/v1/models")).toBe(true);
});

test("an MCP server that failed is reported with its fix", async () => {
  await using d = await startDaemon({
    config: `${config(fake.url)}\n[mcp.missing]\ncommand = "no-such-mcp-server-program"\neager = true\n`,
  });
  chmodSync(join(d.home, "crabtalk.toml"), 0o600);
  const c = await d.client();
  for (let i = 0; i < 100; i++) {
    const s = (await c.request({ mcpServers: {} })).mcpServers!.servers.find((x) => x.name === "missing");
    if (s?.state === "failed") break;
    await Bun.sleep(50);
  }
  c.close();
  const r = await runCrabtalk(d.home, ["doctor", "--json", "--offline"]);
  expect(r.code).toBe(1);
  const finding = (JSON.parse(r.stdout) as Finding[]).find((f) => f.check === "mcp server missing")!;
  expect(finding.status).toBe("fail");
  expect(finding.fix).toContain("[mcp.missing]");
});

test("a broken home: each problem with its fix, exit 1; --fix repairs the safe ones", async () => {
  const home = tempHome();
  chmodSync(home, 0o755);
  writeFileSync(
    join(home, "crabtalk.toml"),
    `${config("http://127.0.0.1:9")}\n[provider.refused]\nkind = "openai"\nbase_url = "${fake.url}/v1"\napi_key = "sk-refused-key-000"\nmodels = ["m2"]\n`,
    { mode: 0o644 },
  );
  // A daemon that died: its lock names a pid that is not running, its socket file is left.
  writeFileSync(join(home, "crabtalk.lock"), "999999 1\n");
  writeFileSync(join(home, "crabtalk.sock"), "");
  const r = await runCrabtalk(home, ["doctor", "--json"]);
  expect(r.code).toBe(1);
  const findings = JSON.parse(r.stdout) as Finding[];
  const by = (check: string) => findings.find((f) => f.check === check)!;
  expect(by(`folder ${home}`)).toMatchObject({ status: "fail", fix: `chmod 700 ${home}`, repairable: true });
  expect(by(`file ${join(home, "crabtalk.toml")}`)).toMatchObject({ status: "fail", repairable: true });
  expect(by("lock file")).toMatchObject({ status: "fail", repairable: true });
  expect(by("lock file").detail).toContain("999999");
  expect(by("socket")).toMatchObject({ status: "fail", repairable: true });
  expect(by("provider fake")).toMatchObject({ status: "fail", repairable: false });
  expect(by("provider fake").detail).toContain("unreachable");
  expect(by("provider fake").fix).toContain("base_url of [provider.fake]");
  expect(by("provider refused").detail).toContain("refused the API key (HTTP 401)");
  expect(by("daemon")).toMatchObject({ status: "fail" });

  // Human output names the fix.
  const text = await runCrabtalk(home, ["doctor", "--offline"]);
  expect(text.stdout).toContain(`fix: chmod 700 ${home} (crabtalk doctor --fix does this)`);

  const fixed = await runCrabtalk(home, ["doctor", "--fix", "--offline", "--json"]);
  const after = JSON.parse(fixed.stdout) as Finding[];
  expect(after.filter((f) => f.repairable)).toEqual([]);
  expect(statSync(home).mode & 0o777).toBe(0o700);
  expect(statSync(join(home, "crabtalk.toml")).mode & 0o777).toBe(0o600);
  expect(existsSync(join(home, "crabtalk.lock"))).toBe(false);
  expect(existsSync(join(home, "crabtalk.sock"))).toBe(false);
  // Still exit 1: no daemon is running, which --fix does not start.
  expect(fixed.code).toBe(1);
  expect(after.find((f) => f.check === "daemon")!.status).toBe("fail");
});
