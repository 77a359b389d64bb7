/**
 * The tool registry: sources, grants by name, pattern and source, clashes
 * refused, and tools that appear and disappear while an agent's session
 * lives (no restart; a withdrawn tool answers "unavailable", not "unknown").
 */
import { describe, expect, test } from "bun:test";
import { ToolRegistry } from "../../src/tools/registry.ts";
import { Grants, grantSyntaxError } from "../../src/util/grants.ts";
import { isKind } from "../../src/session/events.ts";
import { call, reply, scripted, tool } from "../agent/script.ts";
import { drain, makeRuntime } from "../helpers/runtime-kit.ts";

const fs = { kind: "mcp" as const, name: "fs" };
const search = { kind: "extension" as const, name: "search" };
const scope = { name: "crab", cwd: "/tmp" };

describe("grants", () => {
  test("names, patterns, sources and everything", () => {
    const g = new Grants(["bash", "fs__*", "search/*"]);
    expect(g.allows("bash", { name: "builtin" })).toBe(true);
    expect(g.allows("read", { name: "builtin" })).toBe(false);
    expect(g.allows("fs__read_file", fs)).toBe(true);
    expect(g.allows("fsx_read", fs)).toBe(false);
    expect(g.allows("web_search", search)).toBe(true);
    expect(g.allows("web_search", { name: "other" })).toBe(false);
    expect(new Grants(["*"]).allows("anything", { name: "x" })).toBe(true);
    expect(new Grants([]).allows("bash", { name: "builtin" })).toBe(false);
  });

  test("syntax is checked, not existence", () => {
    expect(grantSyntaxError("not_there_yet")).toBeUndefined();
    expect(grantSyntaxError("a b")).toContain("is not a tool name or pattern");
    expect(grantSyntaxError("search/")).toContain('write "search/*"');
    expect(grantSyntaxError("")).toContain("empty");
  });
});

describe("ToolRegistry", () => {
  test("a clash with another source is refused, never shadowed", () => {
    const r = new ToolRegistry();
    r.setSource(fs, [tool("read_file", async () => ({ output: "fs" }))]);
    const { refused } = r.setSource(search, [
      tool("read_file", async () => ({ output: "search" })),
      tool("web_search", async () => ({ output: "" })),
    ]);
    expect(refused).toEqual([{ name: "read_file", reason: "the name is taken by MCP server fs; rename one of them" }]);
    const hit = r.lookup("read_file", scope);
    expect(hit.found === "tool" && hit.entry.source).toEqual(fs);
    expect(r.lookup("web_search", scope).found).toBe("tool");
  });

  test("withdrawn and out-of-service tools are unavailable with the reason; removed sources are forgotten", () => {
    const r = new ToolRegistry();
    r.setSource(fs, [tool("fs__a", async () => ({ output: "" })), tool("fs__b", async () => ({ output: "" }))]);
    r.setSource(fs, [tool("fs__a", async () => ({ output: "" }))]);
    expect(r.lookup("fs__b", scope)).toEqual({
      found: "unavailable",
      source: fs,
      reason: "MCP server fs no longer offers it",
    });
    r.withdrawSource(fs, "MCP server fs crashed (exit 1); restarting");
    expect(r.lookup("fs__a", scope)).toMatchObject({
      found: "unavailable",
      reason: expect.stringContaining("crashed"),
    });
    r.removeSource(fs);
    expect(r.lookup("fs__a", scope)).toEqual({ found: "none" });
  });
});

describe("tools at run time in a live session", () => {
  test("a tool registered mid-session is used by an agent granted by pattern; once removed its call is unavailable", async () => {
    const s = scripted([
      reply({ text: "nothing to use yet" }),
      reply({ calls: [call("c1", "fs__read", { path: "x" })] }),
      reply({ text: "read it" }),
      reply({ calls: [call("c2", "fs__read", { path: "x" })] }),
      reply({ text: "could not" }),
    ]);
    const { runtime } = makeRuntime({ models: { m: s.stream }, agents: [{ name: "crab", grants: ["fs__*"] }] });
    const first = await runtime.startTurn({ agent: "crab", content: "1", sender: "t", approver: { kind: "none" } });
    await drain(first.events);
    expect(s.requests[0]!.tools ?? []).toEqual([]);
    expect(runtime.emptyGrants()).toEqual([{ agent: "crab", grant: "fs__*" }]);

    runtime.registry.setSource(fs, [
      tool("fs__read", async (args) => ({ output: `contents of ${String(args.path)}` })),
    ]);
    expect(runtime.grantReport()[0]!.grants).toEqual([{ grant: "fs__*", tools: ["fs__read"] }]);
    const next = { agent: "", session: first.session.id, sender: "t", approver: { kind: "none" } } as const;
    const second = await runtime.startTurn({ ...next, content: "2" });
    const events = await drain(second.events);
    expect(s.requests[1]!.tools!.map((t) => t.name)).toEqual(["fs__read"]);
    expect(events.find((e) => isKind(e, "toolResult"))?.body.data).toMatchObject({
      output: "contents of x",
      isError: false,
    });

    runtime.registry.withdrawSource(fs, "MCP server fs is not running");
    const third = await runtime.startTurn({ ...next, content: "3" });
    const after = await drain(third.events);
    expect(after.find((e) => isKind(e, "toolResult"))?.body.data).toMatchObject({
      output: "tool fs__read is unavailable: MCP server fs is not running; try again later or do without it",
      isError: true,
    });
  });
});
