/**
 * Config over the wire against the compiled daemon: GetConfig never shows a
 * literal secret (API keys, header values, anything under env) and shows
 * ${VAR} references as written; a get/edit/set round trip keeps every
 * secret; a set is validated like a reload and written atomically with a
 * .bak. The CLI: `config`, `config check`, `config edit` with $EDITOR.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { runCrabtalk } from "./cli-kit.ts";

const LITERAL_KEY = "sk-literal-0123456789abcdef";
const ENV_KEY = "sk-from-env-fedcba9876543210";
const HEADER = "Bearer header-secret-value-42";
const ENV_TOKEN = "env-token-secret-777";

const CONFIG = `[daemon]
tcp = false

[provider.literal]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key = "${LITERAL_KEY}"
models = ["m1"]
headers = { Authorization = "${HEADER}", "X-Env" = "\${FROM_ENV}" }

[provider.fromenv]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key = "\${CRABTALK_TEST_KEY}"
models = ["m2"]

[agents.crab]
model = "m1"
`;

let d: DaemonHandle;

beforeAll(async () => {
  d = await startDaemon({ config: CONFIG, env: { CRABTALK_TEST_KEY: ENV_KEY, FROM_ENV: ENV_TOKEN } });
});
afterAll(async () => {
  await d.cleanup();
});

const file = () => join(d.home, "crabtalk.toml");

describe("GetConfig and SetConfigMsg", () => {
  test("no secret ever appears; references are shown as written", async () => {
    const c = await d.client();
    const text = (await c.request({ getConfig: {} })).config!.config;
    c.close();
    for (const secret of [LITERAL_KEY, ENV_KEY, HEADER, ENV_TOKEN, "header-secret-value"])
      expect(text).not.toContain(secret);
    expect(text).toContain('api_key = "***"');
    expect(text).toContain('Authorization = "***"');
    expect(text).toContain('api_key = "${CRABTALK_TEST_KEY}"');
    expect(text).toContain('"X-Env" = "${FROM_ENV}"');
  });

  test("a get/edit/set round trip keeps every secret and writes a .bak", async () => {
    const c = await d.client();
    const text = (await c.request({ getConfig: {} })).config!.config;
    const edited = `${text}\n[agents.added]\nmodel = "m2"\n`;
    const report = (await c.request({ setConfig: { config: edited } })).reloaded!;
    expect(report.changes).toContain("agent added added");
    const onDisk = readFileSync(file(), "utf8");
    expect(onDisk).toContain(`api_key = "${LITERAL_KEY}"`);
    expect(onDisk).toContain(`Authorization = "${HEADER}"`);
    expect(onDisk).toContain('api_key = "${CRABTALK_TEST_KEY}"');
    expect(onDisk).toContain("[agents.added]");
    expect(readFileSync(`${file()}.bak`, "utf8")).toBe(CONFIG);
    // And what comes back is redacted again.
    const again = (await c.request({ getConfig: {} })).config!.config;
    expect(again).not.toContain(LITERAL_KEY);
    c.close();
  });

  test("a bad text is refused with file, line and key; the file and the daemon are unchanged", async () => {
    const c = await d.client();
    const before = readFileSync(file(), "utf8");
    await expect(
      c.request({ setConfig: { config: `${before}\n[agents.bad]\nmax_iterations = -1\n` } }),
    ).rejects.toMatchObject({ code: 400, message: expect.stringMatching(/:\d+: \[agents\.bad\.max_iterations\]/) });
    // "***" where no secret is configured now cannot be kept.
    await expect(
      c.request({
        setConfig: {
          config:
            before.replace("[agents.crab]", "[agents.crab]\n# x\n") +
            '\n[provider.new]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "***"\nmodels = ["m3"]\n',
        },
      }),
    ).rejects.toMatchObject({ code: 400, message: expect.stringContaining("[provider.new.api_key]") });
    expect(readFileSync(file(), "utf8")).toBe(before);
    c.close();
  });
});

describe("CLI", () => {
  test("`crabtalk config` prints the redacted config", async () => {
    const r = await runCrabtalk(d.home, ["config", "--socket", d.socket]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('api_key = "***"');
    expect(r.stdout).not.toContain(LITERAL_KEY);
  });

  test("`config check` validates without a daemon: ok, or exit 1 with file, line and key", async () => {
    const home = tempHome();
    const good = join(home, "good.toml");
    writeFileSync(good, `[daemon]\ntcp = false\n`);
    const ok = await runCrabtalk(home, ["config", "check", good]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`${good}: ok`);
    const bad = join(home, "bad.toml");
    writeFileSync(bad, `[daemon]\ntcp = false\n\n[agents.x]\nmax_iterations = 0\n`);
    const no = await runCrabtalk(home, ["config", "check", bad]);
    expect(no.code).toBe(1);
    expect(no.stderr).toContain(`${bad}:5: [agents.x.max_iterations]`);
  });

  test("`config edit` applies a valid edit; an invalid one is kept aside and not applied", async () => {
    const home = tempHome();
    const editor = join(home, "editor.sh");
    writeFileSync(editor, `#!/bin/sh\nprintf '\\n[agents.edited]\\nmodel = "m1"\\n' >> "$1"\n`);
    chmodSync(editor, 0o755);
    const r = await runCrabtalk(d.home, ["config", "edit", "--socket", d.socket], { env: { EDITOR: editor } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("reloaded: agent edited added");
    expect(readFileSync(file(), "utf8")).toContain(`api_key = "${LITERAL_KEY}"`);

    const breaker = join(home, "breaker.sh");
    writeFileSync(breaker, `#!/bin/sh\nprintf '\\n[agents.broken]\\nmax_iterations = 0\\n' >> "$1"\n`);
    chmodSync(breaker, 0o755);
    const before = readFileSync(file(), "utf8");
    const bad = await runCrabtalk(d.home, ["config", "edit", "--socket", d.socket], { env: { EDITOR: breaker } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("[agents.broken.max_iterations]");
    const kept = /kept in (\S+)/.exec(bad.stderr)?.[1];
    expect(kept && existsSync(kept)).toBe(true);
    expect(readFileSync(kept!, "utf8")).toContain("[agents.broken]");
    expect(readFileSync(file(), "utf8")).toBe(before);
  });
});
