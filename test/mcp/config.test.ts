/**
 * `[mcp.<name>]` parsing through parseConfig: both transports with their
 * defaults, `[mcps]` accepted, ${VAR} from the environment, the agents'
 * `mcp` grant checked against the servers, and errors that name the key,
 * the line and the fix.
 */
import { expect, test } from "bun:test";
import { ConfigError } from "../../src/config/errors.ts";
import { parseConfig, type Config } from "../../src/config/load.ts";

const parse = (text: string, env: Record<string, string> = {}): Config =>
  parseConfig(text, { file: "/h/crabtalk.toml", env }, { home: "/h", builtinTools: ["bash", "read"] });

function errorOf(text: string): ConfigError {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

test("stdio and HTTP servers with their defaults; [mcps] is accepted; ${VAR} expands", () => {
  const config = parse(
    `[mcp]\ntool_threshold = 12\n\n[mcp.fs]\ncommand = "node"\nargs = ["s.js", "~/notes"]\nenv = { TOKEN = "\${NOTES_TOKEN}" }\ncwd = "work"\n\n[mcps.docs]\nurl = "https://example.com/mcp"\nheaders = { Authorization = "Bearer \${DOCS}" }\nidle_timeout_s = 0\nrestart = "never"\neager = true\n\n[agents.crab]\nmcp = ["fs", "docs", "fs"]\n`,
    { NOTES_TOKEN: "n-token", DOCS: "d-token", HOME: "/home/u" },
  );
  expect(config.mcp.toolThreshold).toBe(12);
  const [fs, docs] = config.mcp.servers;
  expect(fs).toEqual({
    name: "fs",
    transport: {
      kind: "stdio",
      command: "node",
      args: ["s.js", "/home/u/notes"],
      env: { TOKEN: "n-token" },
      cwd: "/h/work",
    },
    enabled: true,
    connectTimeoutMs: 30_000,
    callTimeoutMs: 120_000,
    idleTimeoutS: 1800,
    restart: "on_failure",
    eager: false,
  });
  expect(docs!.transport).toEqual({
    kind: "http",
    url: "https://example.com/mcp",
    headers: { Authorization: "Bearer d-token" },
  });
  expect([docs!.idleTimeoutS, docs!.restart, docs!.eager]).toEqual([0, "never", true]);
  expect(config.agents.agents.get("crab")!.mcp).toEqual(["fs", "docs"]);
});

test("no [mcp] section: no servers, agents have no mcp grant", () => {
  const config = parse(`[agents.crab]\nmodel = "m"\n`);
  expect(config.mcp.servers).toEqual([]);
  expect(config.agents.agents.get("crab")!.mcp).toBeUndefined();
});

const cases: [string, string, string, string][] = [
  ["neither command nor url", `[mcp.x]\nenabled = true\n`, "mcp.x", "neither command nor url"],
  ["both command and url", `[mcp.x]\ncommand = "a"\nurl = "http://h/"\n`, "mcp.x", "both command and url"],
  ["an unknown key", `[mcp.x]\ncommand = "a"\ncomand = "b"\n`, "mcp.x", "comand"],
  ["a bad restart", `[mcp.x]\ncommand = "a"\nrestart = "always"\n`, "mcp.x.restart", "always"],
  ["a negative timeout", `[mcp.x]\ncommand = "a"\ncall_timeout_ms = 0\n`, "mcp.x.call_timeout_ms", ">= 1"],
  ["a reserved server name", `[mcp.mcp]\ncommand = "a"\n`, "mcp.mcp", "not a valid MCP server name"],
  ["a name with __", `[mcp.a__b]\ncommand = "a"\n`, "mcp.a__b", "not a valid MCP server name"],
  ["a missing variable", `[mcp.x]\nurl = "http://h/"\nheaders = { A = "\${NOPE}" }\n`, "mcp.x.headers.A", "NOPE"],
  ["a server configured twice", `[mcp.x]\ncommand = "a"\n[mcps.x]\ncommand = "b"\n`, "mcps.x", "twice"],
  [
    "an agent granted an unknown server",
    `[mcp.fs]\ncommand = "a"\n[agents.crab]\nmcp = ["docs"]\n`,
    "agents.crab.mcp",
    "use one of: fs",
  ],
  ["a url that is not http", `[mcp.x]\nurl = "ftp://h/"\n`, "mcp.x.url", "not an http(s) URL"],
];
for (const [what, text, key, says] of cases) {
  test(`refused: ${what}`, () => {
    const err = errorOf(text);
    expect(err.key).toBe(key);
    expect(err.message).toContain(says);
    expect(err.line).toBeGreaterThan(0);
    expect(err.fix.length).toBeGreaterThan(0);
  });
}
