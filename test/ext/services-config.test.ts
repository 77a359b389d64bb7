/**
 * [services.<name>] parsing (src/config/services.ts) through parseConfig:
 * defaults, `crate` as the reference's spelling of `command`, ${VAR} in
 * env, the opaque config table as JSON; and errors that name the file, the
 * line, the key and the fix (unknown kind, restart outside the three words,
 * a command not on PATH). Also the SetServiceConfig file edit
 * (src/ext/config-file.ts): one line replaced, everything else kept.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/errors.ts";
import { parseConfig } from "../../src/config/load.ts";
import { writeServiceConfig } from "../../src/ext/config-file.ts";

const HOME = mkdtempSync(join(tmpdir(), "crabtalk-services-"));
const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", TOKEN: "s3cret" };
const parse = (text: string) =>
  parseConfig(text, { file: "/x/crabtalk.toml", env: ENV }, { home: HOME, builtinTools: ["read"] });

describe("[services.*]", () => {
  test("defaults, crate, env expansion, config as JSON", () => {
    const cfg = parse(`[services.search]
crate = "sh"
args = ["search"]
env = { KEY = "\${TOKEN}" }
config = { backend = "duckduckgo", max_results = 5, api_key = "\${TOKEN}" }
`);
    const [s] = cfg.services;
    expect(s).toMatchObject({
      name: "search",
      kind: "extension",
      command: "sh",
      args: ["search"],
      enabled: true,
      restart: "on_failure",
      env: { KEY: "s3cret" },
      config: '{"backend":"duckduckgo","max_results":5,"api_key":"s3cret"}',
      hasConfig: true,
      timeoutMs: 30_000,
    });
    expect(s!.executable).toMatch(/\/sh$/);
  });

  const fails = (text: string, ...parts: string[]) => {
    let err: unknown;
    try {
      parse(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    for (const p of parts) expect((err as Error).message).toContain(p);
  };

  test("errors name the file, line, key and fix", () => {
    fails(
      '[services.a]\ncommand = "sh"\nkind = "plugin"\n',
      "/x/crabtalk.toml:3",
      "[services.a.kind]",
      '"plugin" is not one of extension, gateway',
    );
    fails(
      '[services.a]\ncommand = "sh"\nrestart = "sometimes"\n',
      "[services.a.restart]",
      "use one of: never, on_failure, always",
    );
    fails(
      '[services.a]\ncommand = "no-such-program-xyz"\n',
      "[services.a.command]",
      "not found on PATH",
      "Fix: install it",
    );
    fails('[services.a]\ncommand = "/nonexistent/bin"\n', "is not an executable file");
    // A disabled service may name a program not installed yet.
    expect(parse('[services.a]\ncommand = "not-installed-yet"\nenabled = false\n').services[0]!.enabled).toBe(false);
    fails("[services.a]\nargs = []\n", "no command");
    fails('[services.a]\ncommand = "sh"\ncolour = 1\n', 'unknown key "colour"');
    fails('[services.a]\ncommand = "sh"\nenv = { K = "${NOPE_UNSET}" }\n', "NOPE_UNSET is not set");
  });
});

describe("SetServiceConfig's file edit", () => {
  test("replaces the one-line config and keeps comments and other sections", () => {
    const file = join(HOME, "a.toml");
    writeFileSync(
      file,
      '# top comment\n[services.s]\ncommand = "sh" # the shell\nconfig = { a = 1 }\n\n[agents.crab]\nmodel = "m"\n',
    );
    writeServiceConfig(file, "s", { a: 2, name: "x y", list: [1, 2], nested: { ok: true } });
    const text = readFileSync(file, "utf8");
    expect(text).toBe(
      '# top comment\n[services.s]\ncommand = "sh" # the shell\nconfig = { a = 2, name = "x y", list = [1, 2], nested = { ok = true } }\n\n[agents.crab]\nmodel = "m"\n',
    );
  });

  test("adds a config line when there is none; refuses null", () => {
    const file = join(HOME, "b.toml");
    writeFileSync(file, '[services.s]\ncommand = "sh"\n');
    writeServiceConfig(file, "s", { k: "v" });
    expect(readFileSync(file, "utf8")).toBe('[services.s]\nconfig = { k = "v" }\ncommand = "sh"\n');
    expect(() => writeServiceConfig(file, "s", { k: null })).toThrow(/null, which TOML cannot hold/);
  });

  test("a [services.s.config] table is rewritten through the whole document (comments there are lost)", () => {
    const file = join(HOME, "c.toml");
    writeFileSync(file, '[services.s]\ncommand = "sh"\n[services.s.config]\nold = 1\n');
    writeServiceConfig(file, "s", { fresh: true });
    const again = parse(readFileSync(file, "utf8"));
    expect(again.services[0]!.config).toBe('{"fresh":true}');
  });
});
