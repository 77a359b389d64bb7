/**
 * The config keys of skills and memory: `[daemon] skill_dirs`, `[memory]`,
 * `[agents.x] skills` and `memory`, with their defaults and errors that
 * name the key and the fix.
 */
import { expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/config/errors.ts";

const parse = (text: string) =>
  parseConfig(text, { file: "/h/crabtalk.toml", env: { HOME: "/home/me" } }, { home: "/h", builtinTools: [] });

test("defaults: builtin memory, no auto-recall, no skill dirs, agents with no skills and shared memory", () => {
  const c = parse("");
  expect(c.memory).toEqual({ backend: "builtin", recallLimit: 0 });
  expect(c.skillDirs).toEqual([]);
  const crab = c.agents.agents.get("crab")!;
  expect(crab.skills).toBeUndefined();
  expect(crab.memory).toBeUndefined();
});

test("every key is read; skill dirs resolve ~ and relative paths", () => {
  const c = parse(`[daemon]
skill_dirs = ["~/.claude/skills", "shared"]

[memory]
backend = "off"
recall_limit = 3

[agents.crab]
skills = ["deploy", "triage"]
memory = "own"

[agents.all]
skills = "*"
memory = "off"
`);
  expect(c.skillDirs).toEqual(["/home/me/.claude/skills", "/h/shared"]);
  expect(c.memory).toEqual({ backend: "off", recallLimit: 3 });
  expect(c.agents.agents.get("crab")!.skills).toEqual(["deploy", "triage"]);
  expect(c.agents.agents.get("crab")!.memory).toBe("own");
  expect(c.agents.agents.get("all")!.skills).toBe("*");
  expect(c.agents.agents.get("all")!.memory).toBe("off");
});

test("bad values are ConfigErrors naming the key, the line and the fix", () => {
  const cases: [string, string, string][] = [
    ['[memory]\nbackend = "redis"\n', "memory.backend", 'backend = "builtin" or "off"'],
    ["[memory]\nrecall_limit = -1\n", "memory.recall_limit", "recall_limit = 3"],
    ["[memory]\nsize = 1\n", "memory", ""],
    ['[agents.crab]\nmemory = "private"\n', "agents.crab.memory", '"shared", "own" or "off"'],
    ["[agents.crab]\nskills = 3\n", "agents.crab.skills", 'skills = "*"'],
    ['[daemon]\nskill_dirs = "one"\n', "daemon.skill_dirs", "skill_dirs = ["],
  ];
  for (const [text, key, fix] of cases) {
    let err: unknown;
    try {
      parse(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key.startsWith(key)).toBe(true);
    expect((err as ConfigError).line).toBeGreaterThan(0);
    expect((err as ConfigError).fix).toContain(fix);
  }
});
