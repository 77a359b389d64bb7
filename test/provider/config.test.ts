/**
 * [provider.*] parsing: the happy path with defaults and ${VAR} expansion,
 * every refusal naming file, key and fix, and the first-start default
 * config, which must parse with the same code and never hold a literal key.
 */
import { describe, expect, test } from "bun:test";
import { parse } from "smol-toml";
import { defaultConfig } from "../../src/config/default-config.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { parseProviders } from "../../src/config/providers.ts";

const FILE = "/home/u/.crabtalk/crabtalk.toml";
const ctx = (env: Record<string, string> = {}) => ({ file: FILE, env });

function providersOf(toml: string, env: Record<string, string> = {}) {
  return parseProviders(parse(toml).provider, ctx(env));
}

function configError(toml: string, env: Record<string, string> = {}): ConfigError {
  try {
    providersOf(toml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("parseProviders", () => {
  test("the issue's example, with defaults and ${VAR} expansion", () => {
    const providers = providersOf(
      `
[provider.openai]
kind = "openai"
base_url = "https://api.openai.com/v1"
api_key = "\${OPENAI_API_KEY}"
models = ["gpt-4o-mini", "gpt-4o"]
headers = { "OpenAI-Organization" = "org-1" }
context_window = { "gpt-4o" = 128000 }

[provider.local]
kind = "openai"
base_url = "http://127.0.0.1:11434/v1/"
models = ["qwen2.5:7b"]
max_retries = 0
timeout_ms = 5000
idle_timeout_ms = 7000
`,
      { OPENAI_API_KEY: "sk-live-abc123456789" },
    );
    expect(providers).toEqual([
      {
        name: "openai",
        kind: "openai",
        baseUrl: "https://api.openai.com/v1",
        apiKey: "sk-live-abc123456789",
        models: ["gpt-4o-mini", "gpt-4o"],
        headers: { "OpenAI-Organization": "org-1" },
        maxRetries: 2,
        timeoutMs: 120_000,
        idleTimeoutMs: 180_000,
        contextWindow: { "gpt-4o": 128000 },
      },
      {
        name: "local",
        kind: "openai",
        baseUrl: "http://127.0.0.1:11434/v1",
        models: ["qwen2.5:7b"],
        headers: {},
        maxRetries: 0,
        timeoutMs: 5000,
        idleTimeoutMs: 7000,
        contextWindow: {},
      },
    ]);
  });

  test("no [provider] tables → no providers; anthropic base_url defaults", () => {
    expect(parseProviders(undefined, ctx())).toEqual([]);
    const [p] = providersOf(`[provider.a]\nkind = "anthropic"\nmodels = ["claude-sonnet-4-5"]\n`);
    expect(p!.baseUrl).toBe("https://api.anthropic.com/v1");
  });

  const cases: [what: string, toml: string, key: string, problem: RegExp, fix: RegExp][] = [
    [
      "duplicate model across providers",
      `[provider.a]\nkind="openai"\nmodels=["m"]\n[provider.b]\nkind="openai"\nmodels=["m"]`,
      "provider.b.models",
      /already served by \[provider\.a\]/,
      /remove "m"/,
    ],
    [
      "unknown kind",
      `[provider.a]\nkind="gemini"\nmodels=["m"]`,
      "provider.a.kind",
      /unknown kind "gemini"/,
      /kind = "openai"/,
    ],
    ["missing kind", `[provider.a]\nmodels=["m"]`, "provider.a.kind", /expected a string/, /kind = "openai"/],
    [
      "missing ${VAR}",
      `[provider.a]\nkind="openai"\napi_key="\${NOPE_KEY}"\nmodels=["m"]`,
      "provider.a.api_key",
      /NOPE_KEY is not set/,
      /export NOPE_KEY/,
    ],
    [
      "malformed URL",
      `[provider.a]\nkind="openai"\nbase_url="localhost:11434"\nmodels=["m"]`,
      "provider.a.base_url",
      /must use http or https|not a valid URL/,
      /http/,
    ],
    [
      "URL without scheme",
      `[provider.a]\nkind="openai"\nbase_url="not a url"\nmodels=["m"]`,
      "provider.a.base_url",
      /not a valid URL/,
      /full URL/,
    ],
    [
      "unknown key",
      `[provider.a]\nkind="openai"\nmodels=["m"]\nmax_tokens=5`,
      "provider.a",
      /unknown key "max_tokens"/,
      /base_url/,
    ],
    ["empty models", `[provider.a]\nkind="openai"\nmodels=[]`, "provider.a.models", /empty/, /at least one/],
    [
      "negative retries",
      `[provider.a]\nkind="openai"\nmodels=["m"]\nmax_retries=-1`,
      "provider.a.max_retries",
      /out of range/,
      /0 to 10/,
    ],
    [
      "context window for a model not served",
      `[provider.a]\nkind="openai"\nmodels=["m"]\ncontext_window={ x = 5 }`,
      "provider.a.context_window",
      /"x" is not in/,
      /add it to models/,
    ],
    ["provider not a table", `provider = 5`, "provider", /expected tables/, /\[provider\.<name>\]/],
  ];
  for (const [what, toml, key, problem, fix] of cases) {
    test(`${what} → ConfigError naming file, key and fix`, () => {
      const err = configError(toml);
      expect(err.file).toBe(FILE);
      expect(err.key).toBe(key);
      expect(err.problem).toMatch(problem);
      expect(err.fix).toMatch(fix);
      expect(err.message).toContain(FILE);
      expect(err.message).toContain("Fix:");
    });
  }
});

describe("defaultConfig", () => {
  const choices = [
    [{ OPENAI_API_KEY: "sk-real-openai-key-123456" }, "openai", "gpt-4o-mini", /OpenAI/],
    [{ ANTHROPIC_API_KEY: "sk-ant-real-key-123456" }, "anthropic", "claude-sonnet-4-5", /Anthropic/],
    [{}, "openai", "qwen2.5:7b", /Ollama/],
  ] as const;
  for (const [env, kind, model, picked] of choices) {
    test(`env ${Object.keys(env).join(",") || "(no keys)"} → ${model}`, () => {
      const out = defaultConfig(env);
      expect(out.picked).toMatch(picked);
      expect(out.picked).not.toContain("\n");
      for (const secret of Object.values(env)) expect(out.text).not.toContain(secret);
      const doc = parse(out.text);
      const providers = parseProviders(doc.provider, ctx({ ...env }));
      expect(providers.length).toBe(1);
      expect(providers[0]!.kind).toBe(kind);
      expect(providers[0]!.models).toEqual([model]);
      expect(out.text).toContain("# [daemon]");
      expect(out.text).toContain("# [agents.crab]");
      if (kind === "anthropic") expect(out.text).toContain('api_key = "${ANTHROPIC_API_KEY}"');
      if (model === "gpt-4o-mini") expect(out.text).toContain('api_key = "${OPENAI_API_KEY}"');
      if (model === "qwen2.5:7b") expect(providers[0]!.baseUrl).toBe("http://127.0.0.1:11434/v1");
    });
  }
  test("OPENAI_API_KEY wins when both are set", () => {
    expect(defaultConfig({ OPENAI_API_KEY: "a", ANTHROPIC_API_KEY: "b" }).model).toBe("gpt-4o-mini");
  });
});
