/**
 * The key locator behind file:line in semantic config errors: headers, dotted
 * and quoted keys, inline tables, multi-line values that must not be mistaken
 * for keys, and parseConfig attaching the line to every kind of ConfigError.
 */
import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../src/config/errors.ts";
import { parseConfig } from "../../src/config/load.ts";
import { keyLines, locateKey } from "../../src/config/locate.ts";

const DOC = `# a comment = not a key
[daemon]
tcp = "127.0.0.1:6688"
shutdown_grace_ms = 5   # trailing comment

[provider.openai]
kind = "openai"
models = [
  "gpt-4o-mini",
  "x = 1",
]
headers = { "X-Title" = "crab" }
"quoted.key" = 1

[agents . crab]
system_prompt = """
fake = "not a key"
[not.a.header]
"""
tools.extra = 2
'literal' = 3

[[arrays]]
item = 1
`;

describe("keyLines / locateKey", () => {
  test("keys and headers are found on their lines", () => {
    expect(locateKey(DOC, "daemon")).toBe(2);
    expect(locateKey(DOC, "daemon.tcp")).toBe(3);
    expect(locateKey(DOC, "daemon.shutdown_grace_ms")).toBe(4);
    expect(locateKey(DOC, "provider.openai")).toBe(6);
    expect(locateKey(DOC, "provider.openai.kind")).toBe(7);
    expect(locateKey(DOC, "provider.openai.models")).toBe(8);
    expect(locateKey(DOC, "provider.openai.quoted.key")).toBe(13);
    expect(locateKey(DOC, "agents.crab")).toBe(15);
    expect(locateKey(DOC, "agents.crab.system_prompt")).toBe(16);
    expect(locateKey(DOC, "agents.crab.tools")).toBe(20);
    expect(locateKey(DOC, "agents.crab.tools.extra")).toBe(20);
    expect(locateKey(DOC, "agents.crab.literal")).toBe(21);
    expect(locateKey(DOC, "arrays.item")).toBe(24);
  });

  test("text inside multi-line strings and arrays is not a key or header", () => {
    const keys = [...keyLines(DOC).keys()];
    expect(keys).not.toContain("agents.crab.fake");
    expect(keys).not.toContain("not.a.header");
    expect(keys).not.toContain("provider.openai.x");
    expect(keys).not.toContain("a comment");
  });

  test("fallbacks: a key in an inline table, a missing key, a section known by its subtables, nothing", () => {
    expect(locateKey(DOC, "provider.openai.headers.X-Title")).toBe(12);
    expect(locateKey(DOC, "provider.openai.base_url")).toBe(6);
    expect(locateKey(DOC, "agents")).toBe(15);
    expect(locateKey(DOC, "provider")).toBe(6);
    expect(locateKey(DOC, "budget")).toBeUndefined();
    expect(locateKey(DOC, "")).toBeUndefined();
  });
});

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, { file: "/h/crabtalk.toml", env: {} }, { home: "/h", builtinTools: ["bash", "read"] });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig puts the line on semantic errors", () => {
  const cases: [string, string, number, string][] = [
    ["a bad value", `[daemon]\n\nshutdown_grace_ms = -5\n`, 3, "daemon.shutdown_grace_ms"],
    ["an unknown key in a section", `[daemon]\ntcp = false\nbogus = 1\n`, 3, "daemon"],
    ["an unknown section", `[daemon]\ntcp = false\n\n[nope]\nx = 1\n`, 4, ""],
    ["a malformed tool name in permissions", `[permissions]\nbash = "ask"\n"f ly" = "deny"\n`, 3, "permissions"],
    ["a missing required key", `\n[provider.a]\nkind = "openai"\n`, 2, "provider.a.models"],
    [
      "a bad value in an inline table",
      `[provider.a]\nkind = "openai"\nmodels = ["m"]\n\ncontext_window = { m = 0 }\n`,
      5,
      "provider.a.context_window.m",
    ],
    ["nan", `[daemon]\ncompact_threshold = nan\n`, 2, "daemon.compact_threshold"],
  ];
  for (const [what, text, line, key] of cases) {
    test(what, () => {
      const err = errorOf(text);
      expect(err.line).toBe(line);
      expect(err.key).toBe(key);
      expect(err.message).toStartWith(`/h/crabtalk.toml:${line}: `);
    });
  }

  test("nan and inf are named as TOML spells them, not as null", () => {
    expect(errorOf(`[daemon]\ncompact_threshold = nan\n`).problem).toBe("expected a finite number, got nan");
    expect(errorOf(`[daemon]\ncompact_threshold = inf\n`).problem).toBe("expected a finite number, got inf");
    expect(errorOf(`[daemon]\nshutdown_grace_ms = -inf\n`).problem).toBe("expected a finite number, got -inf");
  });
});
