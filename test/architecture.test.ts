/**
 * Keeps the folder import rules of shared/design/architecture.md true by
 * reading every import line under src/. Deviations from the original table
 * are deliberate and listed with their reason:
 * - cli may import protocol (generated types to render events) and store
 *   (`replay` reads a session file when the daemon is down);
 * - session may import protocol: session/wire.ts is the one place loop
 *   events become wire events, and handlers share the WireError codes.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

const SRC = join(import.meta.dir, "..", "src");

const ALLOWED: Record<string, string[]> = {
  cli: ["client", "config", "util", "protocol", "store", "cli"],
  client: ["transport", "protocol", "config", "util", "client"],
  daemon: ["*"],
  protocol: ["util", "protocol"],
  transport: ["protocol", "util", "transport"],
  session: ["agent", "provider", "tools", "store", "util", "protocol", "session"],
  agent: ["provider", "util", "agent"],
  provider: ["util", "provider"],
  tools: ["agent", "util", "tools"],
  store: ["util", "provider", "store"],
  config: ["util", "config"],
  util: ["util"],
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
