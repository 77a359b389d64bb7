/** [agents.*], [permissions] and [budget]: defaults, the implicit crab agent, and errors that name key and fix. */
import { describe, expect, test } from "bun:test";
import { parse } from "smol-toml";
import { parseAgents, type ParseAgentsOptions } from "../../src/config/agents.ts";
import { ConfigError, type ConfigContext } from "../../src/config/errors.ts";

const ctx: ConfigContext = { file: "/h/crabtalk.toml", env: { HOME: "/home/me" } };
const known = ["bash", "read", "write", "edit"];

function opts(extra: Partial<ParseAgentsOptions> = {}): ParseAgentsOptions {
  return {
    defaultModel: "gpt-4o-mini",
    builtinTools: known,
    agentsDir: "/h/agents",
    home: "/h",
    readText: () => undefined,
    ...extra,
  };
}

const run = (toml: string, extra: Partial<ParseAgentsOptions> = {}) => parseAgents(parse(toml), ctx, opts(extra));

function error(toml: string, extra: Partial<ParseAgentsOptions> = {}): ConfigError {
  try {
    run(toml, extra);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("parseAgents", () => {
  test("an empty config still has crab with every default", () => {
    const cfg = run("");
    expect([...cfg.agents.keys()]).toEqual(["crab"]);
    expect(cfg.agents.get("crab")).toEqual({
      name: "crab",
      model: "gpt-4o-mini",
      tools: known,
      maxIterations: 16,
      thinking: false,
      cwd: "/h/work",
    });
    expect(cfg.permissions).toEqual({ global: {}, agents: {} });
    expect(cfg.budget).toEqual({});
  });

  test("every agent key is read", () => {
    const cfg = run(`
[agents.crab]
model = "claude"
system_prompt = "You are Crab."
tools = ["bash", "read", "bash"]
max_iterations = 4
thinking = true
cwd = "~/work"
max_tokens_per_turn = 200000
description = "the default"

[agents.researcher]
cwd = "notes"
`);
    expect(cfg.agents.get("crab")).toEqual({
      name: "crab",
      model: "claude",
      systemPrompt: "You are Crab.",
      tools: ["bash", "read"],
      maxIterations: 4,
      thinking: true,
      cwd: "/home/me/work",
      maxTokensPerTurn: 200000,
      description: "the default",
    });
    expect(cfg.agents.get("researcher")).toMatchObject({ model: "gpt-4o-mini", cwd: "/h/notes", tools: known });
  });

  test("the system prompt comes from agents/<name>.md when not written inline", () => {
    const read: string[] = [];
    const cfg = run(`[agents.writer]\n[agents.inline]\nsystem_prompt = "inline"`, {
      readText: (p) => {
        read.push(p);
        return p.endsWith("writer.md") ? "From the file." : undefined;
      },
    });
    expect(cfg.agents.get("writer")!.systemPrompt).toBe("From the file.");
    expect(cfg.agents.get("inline")!.systemPrompt).toBe("inline");
    expect(cfg.agents.get("crab")!.systemPrompt).toBeUndefined();
    expect(read).toEqual(["/h/agents/writer.md", "/h/agents/crab.md"]);
  });

  test("grants default to the built-in tools; names, patterns and sources of tools not known yet are accepted", () => {
    const cfg = run(
      `[agents.x]\ntools = ["mcp_search", "fs__*", "search/*", "*"]\n[permissions]\n"fs__write_file" = "ask"\n"search/*" = "deny"`,
    );
    expect(cfg.agents.get("x")!.tools).toEqual(["mcp_search", "fs__*", "search/*", "*"]);
    expect(cfg.agents.get("crab")!.tools).toEqual(known);
    expect(cfg.permissions.global).toEqual({ fs__write_file: "ask", "search/*": "deny" });
  });

  test("permissions: global and per-agent tables, wildcard allowed", () => {
    const cfg = run(`
[agents.researcher]
[permissions]
bash = "ask"
"*" = "allow"
[permissions.researcher]
bash = "deny"
`);
    expect(cfg.permissions).toEqual({
      global: { bash: "ask", "*": "allow" },
      agents: { researcher: { bash: "deny" } },
    });
  });

  test("budget", () => {
    expect(run(`[budget]\ndaily_tokens = 2000000`).budget).toEqual({ dailyTokens: 2000000 });
  });

  test("errors name the file, the key and a fix", () => {
    const bad = error(`[permissions]\nbash = "maybe"`);
    expect(bad.message).toBe(
      '/h/crabtalk.toml: [permissions.bash] unknown permission "maybe". Fix: write bash = "allow", "ask" or "deny"',
    );
    expect(error(`[agents.crab]\nmax_iterations = 0`).message).toContain(
      "[agents.crab.max_iterations] must be a positive whole number, got 0",
    );
    expect(error(`[agents.crab]\nmax_iterations = 2.5`).key).toBe("agents.crab.max_iterations");
    expect(error(`[agents.crab]\ntools = ["bash", "fl y"]`).message).toContain(
      '"fl y" is not a grant: "fl y" is not a tool name or pattern',
    );
    expect(error(`[agents.crab]\ntools = ["search/"]`).message).toContain('write "search/*" for every tool of search');
    expect(error(`[agents.crab]\nmodle = "x"`).message).toContain('unknown key "modle"');
    expect(error(`[permissions.ghost]\nbash = "deny"`).message).toContain('no agent is called "ghost"');
    expect(error(`[permissions]\n"b sah" = "deny"`).message).toContain('"b sah" is not a tool name or pattern');
    expect(error(`[budget]\ndaily_tokens = -1`).key).toBe("budget.daily_tokens");
    expect(error(`[budget]\nmonthly = 1`).message).toContain('unknown key "monthly"');
    expect(error(`[agents.crab]\nthinking = "yes"`).key).toBe("agents.crab.thinking");
    expect(error(`[agents."../etc"]`).message).toContain("is not a valid agent name");
    expect(error(`[agents]\ncrab = 1`).message).toContain("[agents.crab] expected a table");
  });

  test("no model anywhere is an error that says where to put one", () => {
    const e = error("", { defaultModel: undefined });
    expect(e.message).toContain("agent crab has no model");
    expect(run(`[agents.crab]\nmodel = "m"`, { defaultModel: undefined }).agents.get("crab")!.model).toBe("m");
  });

  test("an unreadable prompt file is a ConfigError", () => {
    const e = error("", {
      readText: () => {
        throw new Error("EACCES: permission denied");
      },
    });
    expect(e.message).toContain("cannot read the system prompt file /h/agents/crab.md");
  });
});
