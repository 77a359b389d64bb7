/**
 * First start with no crabtalk.toml: the daemon writes a commented default
 * that names the key's environment variable (never the key), picks OpenAI,
 * Anthropic or a local Ollama by what the environment has, and says which.
 */
import { expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startDaemon } from "../helpers/daemon.ts";

const SECRET = "sk-test-0123456789abcdefghij";

test("with OPENAI_API_KEY set: default config uses it by reference and the log says so", async () => {
  await using d = await startDaemon({ env: { OPENAI_API_KEY: SECRET } });
  const file = join(d.home, "crabtalk.toml");
  const text = readFileSync(file, "utf8");
  expect(text).toContain("${OPENAI_API_KEY}");
  expect(text).not.toContain(SECRET);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  await d.waitLog("wrote a default");
  expect(d.stderr().toLowerCase()).toContain("openai");
  expect(d.stderr()).not.toContain(SECRET);
});

test("with no key in the environment: a local Ollama endpoint", async () => {
  await using d = await startDaemon();
  const text = readFileSync(join(d.home, "crabtalk.toml"), "utf8");
  expect(text).toContain("11434");
  expect(d.stderr().toLowerCase()).toContain("ollama");
});

test("an existing config is never overwritten", async () => {
  const config = "# mine\n[daemon]\ntcp = false\n";
  await using d = await startDaemon({ config });
  expect(readFileSync(join(d.home, "crabtalk.toml"), "utf8")).toBe(config);
});
