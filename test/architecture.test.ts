/**
 * Keeps the folder import rules of shared/design/architecture.md true by
 * reading every import line under src/. Deviations from the original table
 * are deliberate and listed with their reason:
 * - cli may import protocol (generated types to render events) and store
 *   (`replay` reads a session file when the daemon is down);
 * - session imports util/grants (a leaf shared with config's grant check).
 * Rules added with the runtime's seams:
 * - session never imports protocol: it has its own event and error types,
 *   mapped to wire shapes at the daemon's edge (daemon/wire.ts, daemon/errors.ts);
 * - handlers translate only: they reach the store and live sessions through
 *   the runtime, never directly;
 * - no import circles anywhere in src (a file never reaches itself).
 * Built-in features (skills, memory) are libraries the daemon wires in:
 * they may use the session's error type, the tool and message types, and the
 * cli reads their files directly (`crabtalk skills`, `crabtalk memory`).
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

const SRC = join(import.meta.dir, "..", "src");

const ALLOWED: Record<string, string[]> = {
  cli: ["client", "config", "util", "protocol", "store", "cli", "ext", "skills", "memory", "acp", "gateway"],
  client: ["transport", "protocol", "config", "util", "client"],
  daemon: ["*"],
  protocol: ["util", "protocol"],
  transport: ["protocol", "util", "transport"],
  session: ["agent", "provider", "tools", "store", "util", "session"],
  agent: ["provider", "util", "agent"],
  provider: ["util", "provider"],
  tools: ["agent", "util", "tools"],
  store: ["util", "provider", "store"],
  config: ["util", "config"],
  // The extension SDK and the search extension (protocol, transport, util), and the daemon-side
  // host, which joins the runtime's seams (registry, hooks, settings, usage).
  ext: ["protocol", "transport", "util", "ext", "session", "tools", "agent", "provider", "config"],
  mcp: ["agent", "config", "session", "tools", "util", "mcp"],
  util: ["util"],
  skills: ["agent", "config", "session", "util", "skills"],
  memory: ["agent", "config", "provider", "session", "util", "skills", "memory"],
  // The editors' bridge (`crabtalk acp`) is a client of the daemon like the CLI: never daemon or session code.
  acp: ["client", "protocol", "config", "util", "acp"],
  // Gateways (Telegram) are clients of the daemon like the CLI: never daemon or session code.
  gateway: ["client", "protocol", "config", "util", "gateway"],
  // The dashboard's browser code and its assets: a client of the daemon over the WebSocket bridge.
  web: ["client", "protocol", "transport", "util", "web"],
  // Delegated tasks: turns of other agents through the runtime, tools in the registry.
  delegation: ["agent", "provider", "session", "tools", "util", "delegation"],
  // Scheduled runs: turns through the runtime, job specs from config; never daemon or protocol.
  cron: ["config", "session", "util", "cron"],
  // The event bus: turns through the runtime, subscriptions from config; never daemon or protocol.
  events: ["config", "session", "util", "events"],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("every src folder imports only what the architecture allows", () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const rel = relative(SRC, file);
    if (rel === "main.ts") continue;
    const folder = rel.split(sep)[0]!;
    const allowed = ALLOWED[folder];
    expect(allowed, `folder ${folder} has no rule`).toBeDefined();
    if (allowed!.includes("*")) continue;
    for (const m of readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
      const target = relative(SRC, join(file, "..", m[1]!));
      if (target.startsWith("..")) continue; // package.json (version)
      const targetFolder = target.split(sep)[0]!;
      const daemonCommand = rel === join("cli", "daemon.ts") && targetFolder === "daemon";
      if (!allowed!.includes(targetFolder) && !daemonCommand) violations.push(`${rel} imports ${target}`);
    }
    if (
      folder === "cli" &&
      !rel.endsWith(`cli${sep}daemon.ts`) &&
      /from "\.\.\/daemon\//.test(readFileSync(file, "utf8"))
    ) {
      violations.push(`${rel} imports daemon (only cli/daemon.ts may)`);
    }
  }
  expect(violations).toEqual([]);
});

test("nothing imports the daemon except the daemon command, and nothing in src imports tests", () => {
  for (const file of files(SRC)) {
    const text = readFileSync(file, "utf8");
    const rel = relative(SRC, file);
    expect(text.includes('from "../../test/') || text.includes('from "../test/'), rel).toBe(false);
    if (!rel.startsWith("daemon") && rel !== join("cli", "daemon.ts"))
      expect(/from "(\.\.\/)+daemon\//.test(text), rel).toBe(false);
  }
});

/** Relative imports of one file, resolved to src-relative paths (type-only imports included: they are still coupling). */
function importsOf(file: string): string[] {
  const out: string[] = [];
  for (const m of readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
    const target = relative(SRC, join(file, "..", m[1]!));
    if (!target.startsWith("..")) out.push(target);
  }
  return out;
}

test("handlers reach sessions and the store only through the runtime", () => {
  const violations: string[] = [];
  for (const file of files(join(SRC, "daemon", "handlers"))) {
    const rel = relative(SRC, file);
    for (const target of importsOf(file)) {
      if (target.startsWith(`store${sep}`)) violations.push(`${rel} imports ${target}`);
      if (target === join("session", "live-session.ts")) violations.push(`${rel} imports ${target}`);
    }
    const text = readFileSync(file, "utf8");
    if (/runtime\.(store|deps|live)\b/.test(text))
      violations.push(`${rel} reaches into the runtime's store or live sessions`);
  }
  expect(violations).toEqual([]);
});

test("no import circles in src", () => {
  const graph = new Map<string, string[]>();
  for (const file of files(SRC)) graph.set(relative(SRC, file), importsOf(file));
  const cycles: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, "visiting");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "visiting") cycles.push([...stack.slice(stack.indexOf(next)), next].join(" -> "));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  expect(cycles).toEqual([]);
});

test("the extension SDK stands alone, and only `crabtalk search` loads the search extension, lazily", () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const rel = relative(SRC, file);
    if (rel.startsWith(join("ext", "sdk") + sep))
      for (const target of importsOf(file))
        if (
          !["protocol", "transport", "util"].includes(target.split(sep)[0]!) &&
          !target.startsWith(join("ext", "sdk"))
        )
          violations.push(`${rel} imports ${target} (the SDK is for third parties: protocol, transport and util only)`);
    if (rel.startsWith(join("ext", "search") + sep))
      for (const target of importsOf(file))
        if (
          target.startsWith("ext") &&
          !target.startsWith(join("ext", "sdk")) &&
          !target.startsWith(join("ext", "search"))
        )
          violations.push(`${rel} imports ${target} (the search extension is built on the SDK alone)`);
    if (!rel.startsWith(join("ext", "search") + sep))
      for (const target of importsOf(file))
        if (target.startsWith(join("ext", "search")))
          violations.push(`${rel} imports ${target} statically (only a dynamic import() in cli/search.ts may)`);
  }
  expect(violations).toEqual([]);
});

test("only `crabtalk acp` loads the ACP bridge and its SDK, lazily", () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const rel = relative(SRC, file);
    const text = readFileSync(file, "utf8");
    const inAcp = rel.startsWith(`acp${sep}`);
    // Outside src/acp the SDK is never imported; the bridge is reached only by cli/acp.ts's dynamic import().
    if (!inAcp && /from "@agentclientprotocol\/sdk/.test(text)) violations.push(`${rel} imports the ACP SDK`);
    if (!inAcp && importsOf(file).some((t) => t.startsWith(`acp${sep}`)))
      violations.push(`${rel} imports src/acp statically (only a dynamic import() in cli/acp.ts may)`);
  }
  const index = readFileSync(join(SRC, "cli", "index.ts"), "utf8");
  if (/from "\.\/acp\.ts"/.test(index)) violations.push("cli/index.ts imports cli/acp.ts statically");
  expect(violations).toEqual([]);
});

test("only `crabtalk telegram` loads the gateway and grammy, lazily", () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const rel = relative(SRC, file);
    const text = readFileSync(file, "utf8");
    const inGateway = rel.startsWith(`gateway${sep}`);
    // Outside src/gateway grammy is never imported; the gateway is reached only by cli/telegram.ts's dynamic import().
    if (!inGateway && /from "grammy/.test(text)) violations.push(`${rel} imports grammy`);
    if (!inGateway && importsOf(file).some((t) => t.startsWith(`gateway${sep}`)))
      violations.push(`${rel} imports src/gateway statically (only a dynamic import() in cli/telegram.ts may)`);
  }
  const index = readFileSync(join(SRC, "cli", "index.ts"), "utf8");
  if (/from "\.\/telegram\.ts"/.test(index)) violations.push("cli/index.ts imports cli/telegram.ts statically");
  expect(violations).toEqual([]);
});

/** Relative value imports of one file (type-only imports are erased, so they load nothing), src-relative. */
function valueImportsOf(file: string): string[] {
  const out: string[] = [];
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from "(\.[^"]+)"/gms)) {
    if (m[2]) continue;
    const target = relative(SRC, join(file, "..", m[3]!));
    if (!target.startsWith("..")) out.push(target);
  }
  return out;
}

/** Every src file `entry` (src-relative) loads before its first dynamic import() runs. */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (rel: string) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    for (const next of valueImportsOf(join(SRC, rel))) visit(next);
  };
  visit(entry);
  return seen;
}

test("start-up loads only what a command needs (issue 20: see bench/startup.ts)", () => {
  const violations: string[] = [];
  // `crabtalk --version` answers from main.ts's leaves; the command table and every command load on demand.
  for (const rel of staticClosure("main.ts"))
    if (
      ![
        "main.ts",
        join("cli", "failure.ts"),
        join("cli", "global-flags.ts"),
        join("cli", "render", "pipe.ts"),
        join("util", "version.ts"),
      ].includes(rel)
    )
      violations.push(`main.ts loads ${rel} at start (import it dynamically where it is needed)`);
  const index = readFileSync(join(SRC, "cli", "index.ts"), "utf8");
  for (const m of index.matchAll(/from "(\.\/[^"]+)"/g))
    violations.push(`cli/index.ts imports ${m[1]} statically (each command is a dynamic import())`);
  // The daemon accepts on its socket before it loads the runtime and its features (daemon/parts.ts).
  const daemonStart = staticClosure(join("cli", "daemon.ts"));
  // session/errors.ts is the one exception: a leaf of error kinds the router's wire-error mapper needs.
  for (const rel of daemonStart)
    if (
      (rel !== join("session", "errors.ts") &&
        /^(session|provider|agent|mcp|ext|cron|events|delegation|skills|memory|acp|gateway|client)\//.test(
          rel.split(sep).join("/"),
        )) ||
      rel.startsWith(join("cli", "render")) ||
      rel === join("tools", "index.ts") ||
      rel === join("store", "jsonl.ts") ||
      rel === join("store", "jsonl-files.ts") ||
      rel === join("daemon", "parts.ts") ||
      rel === join("daemon", "assemble.ts")
    )
      violations.push(`the daemon loads ${rel} before its socket accepts (reach it through daemon/parts.ts)`);
  // Client commands are one request and a print: no daemon, runtime or provider code.
  for (const file of files(join(SRC, "cli"))) {
    const rel = relative(SRC, file);
    if (rel === join("cli", "daemon.ts")) continue;
    for (const dep of staticClosure(rel))
      if (/^(daemon|session|provider)\//.test(dep.split(sep).join("/")))
        violations.push(`${rel} loads ${dep} (client commands never load daemon, session or provider code)`);
  }
  // yaml (~11 ms to import) loads only when a frontmatter fence is parsed or rendered: a dynamic import() in
  // skills/files.ts, so a home without skill or memory files never pays for it.
  for (const file of files(SRC)) {
    const text = readFileSync(file, "utf8");
    if (/^import\s+(?!type\s)[^;]*?from "yaml"/ms.test(text))
      violations.push(
        `${relative(SRC, file)} imports yaml statically (use await import("yaml") where a file is parsed)`,
      );
  }
  expect(violations).toEqual([]);
});
