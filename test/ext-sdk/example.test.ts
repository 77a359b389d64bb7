/**
 * examples/extension-hello is what newcomers copy, so it is run here as the
 * daemon runs it (its own process, `serve --socket PATH`): it must answer
 * the handshake with its tool and capabilities, use its config in a tool
 * call, and leave when the daemon shuts it down.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaemonSide } from "./daemon-side.ts";

const HELLO = join(import.meta.dir, "..", "..", "examples", "extension-hello", "hello.ts");

test("the hello example answers the handshake and a tool call, then exits on ExtShutdown", async () => {
  // Run through its shebang, as `command = "/path/to/hello.ts"` would: `bun` on PATH is the Bun running this test.
  const bin = mkdtempSync(join(tmpdir(), "ext-bin-"));
  symlinkSync(process.execPath, join(bin, "bun"));
  await using ext = await DaemonSide.start([HELLO], [], { PATH: `${bin}:/usr/bin:/bin` });
  const { ready, tools } = await ext.handshake({ greeting: "Ahoy" });
  expect(ready.ready!.service).toBe("hello");
  expect(ready.ready!.capabilities.map((c) => c.cap)).toEqual(["tools", "buildAgent"]);
  expect(tools.toolSchemas!.tools.map((t) => t.name)).toEqual(["greet"]);
  const greeted = await ext.call({ toolCall: { name: "greet", args: '{"name":"Ada"}', agent: "crab" } });
  expect(greeted.toolResult).toEqual({ result: "Ahoy, Ada!", isError: false });
  const built = await ext.call({ buildAgent: { name: "crab" } });
  expect(built.buildAgentResult!.promptAddition).toBe("You can greet people with the greet tool.");
  await ext.sendRaw({ shutdown: {} });
  expect(await ext.exited()).toBe(0);
  expect(existsSync(ext.spawned.socket)).toBe(false);
  rmSync(bin, { recursive: true, force: true });
});
