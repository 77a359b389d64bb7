/**
 * `crabtalk mcp`: the daemon's MCP servers with their state (idle,
 * connecting, ready, failed and why), tool count, pid or URL, restarts and
 * last use; `mcp tools NAME` connects NAME and lists its tools;
 * `mcp call NAME TOOL '{json}'` calls a tool through the daemon (for
 * debugging a server); `mcp serve` is the other direction (mcp-serve.ts).
 */
import { defineCommand } from "citty";
import type { McpServerInfo } from "../protocol/gen/crabtalk.ts";
import { visibleControls as sanitize } from "./render/sanitize.ts";
import { CliFailure, EXIT_FAILURE, connectionArgs, printJson, withClient } from "./shared.ts";

const json = { type: "boolean", description: "Print JSON instead of text" } as const;

function ago(ms: number): string {
  if (ms === 0) return "never used";
  const s = Math.round((Date.now() - ms) / 1000);
  return s < 60 ? `used ${s}s ago` : s < 3600 ? `used ${Math.round(s / 60)}m ago` : `used ${Math.round(s / 3600)}h ago`;
}

function line(s: McpServerInfo): string {
  const tools = s.toolsKnown ? `${s.toolCount} tools` : "tools not listed yet";
  const where = s.pid ? `pid ${s.pid}` : s.transport === "http" ? s.target : "";
  const parts = [s.state, tools, where, s.restarts > 0 ? `${s.restarts} restarts` : "", ago(Number(s.lastUsedMs))];
  let out = `${sanitize(s.name).padEnd(14)} ${parts.filter((p) => p !== "").join(", ")}\n`;
  out += `${"".padEnd(14)} ${sanitize(s.target)}\n`;
  if (s.error) out += `${"".padEnd(14)} error: ${sanitize(s.error)}\n`;
  return out;
}

const toolsCommand = defineCommand({
  meta: {
    name: "tools",
    description: "Connect an MCP server (if needed) and list its tools with their argument schemas.",
  },
  args: { ...connectionArgs, json, name: { type: "positional", description: "The server", required: true } },
  async run({ args }) {
    await withClient(args, async (client) => {
      const server = (await client.request({ mcpServers: { server: args.name } })).mcpServers!.servers[0]!;
      if (args.json) return printJson(server.tools.map((t) => ({ ...t, inputSchema: JSON.parse(t.inputSchema) })));
      process.stdout.write(line(server));
      for (const t of server.tools)
        process.stdout.write(
          `  ${sanitize(t.name)}\n    ${sanitize(t.description.split("\n")[0] ?? "")}\n    args: ${sanitize(t.inputSchema)}\n`,
        );
      if (!server.toolsKnown)
        throw new CliFailure(`${args.name} has not listed its tools: ${server.error ?? server.state}`);
    });
  },
});

const callCommand = defineCommand({
  meta: {
    name: "call",
    description: "Call an MCP server's tool through the daemon and print what a model would read.",
  },
  args: {
    ...connectionArgs,
    json,
    name: { type: "positional", description: "The server", required: true },
    tool: { type: "positional", description: "The tool, as the server names it", required: true },
    arguments: { type: "positional", description: "A JSON object of arguments (default {})", required: false },
  },
  async run({ args }) {
    await withClient(args, async (client) => {
      const r = (
        await client.request({ mcpCall: { server: args.name, tool: args.tool, arguments: args.arguments ?? "" } })
      ).mcpResult!;
      if (args.json) printJson({ output: r.output, isError: r.isError, durationMs: Number(r.durationMs) });
      else process.stdout.write(`${sanitize(r.output)}\n`);
      if (r.isError)
        throw new CliFailure(`${args.name}/${args.tool} answered an error (${r.durationMs} ms)`, EXIT_FAILURE);
    });
  },
});

const serveCommand = defineCommand({
  meta: {
    name: "serve",
    description:
      "Run a stdio MCP server offering the daemon's agents (send_message, list_agents, list_sessions, session_history) to an MCP client.",
  },
  args: { ...connectionArgs },
  async run({ args }) {
    const { serveMcp } = await import("./mcp-serve.ts");
    await serveMcp(args);
  },
});

export const mcpCommand = defineCommand({
  meta: {
    name: "mcp",
    description:
      "MCP servers: list them with their state, list a server's tools, call a tool, or serve the agents over MCP.",
  },
  args: { ...connectionArgs, json },
  subCommands: { tools: toolsCommand, call: callCommand, serve: serveCommand },
  async run({ args, rawArgs }) {
    // citty runs this after a subcommand too.
    const first = rawArgs.find((a) => !a.startsWith("-"));
    if (first === "tools" || first === "call" || first === "serve") return;
    await withClient(args, async (client) => {
      const servers = (await client.request({ mcpServers: {} })).mcpServers!.servers;
      if (args.json)
        return printJson(
          servers.map((s) => ({
            ...s,
            lastUsedMs: Number(s.lastUsedMs),
            tools: s.tools.map((t) => t.name),
          })),
        );
      if (servers.length === 0) process.stdout.write("no MCP servers configured (add [mcp.<name>] sections)\n");
      for (const s of servers) process.stdout.write(line(s));
    });
  },
});
