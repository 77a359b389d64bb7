/**
 * The `mcp` meta-tool, offered instead of each MCP tool to an agent granted
 * more than `[mcp] tool_threshold` of them, so a large server does not
 * flood the context: `mcp{server?}` lists tools (name, description,
 * argument schema), `mcp{server, tool, arguments}` calls one.
 *
 * A call through it gets the same checks dispatch gives a direct call: the
 * server must be granted to the agent, the arguments must match the tool's
 * schema, and the permission rules for `<server>__<tool>` apply ("ask" is
 * refused here, since this path cannot prompt: the model is told so).
 */
import type { Tool, ToolOutput } from "../agent/types.ts";
import { formatErrors, validate } from "../agent/schema.ts";
import type { ScopedTool } from "../tools/registry.ts";
import { errorMessage } from "../util/abort.ts";
import { META_TOOL } from "../config/mcp.ts";
import type { McpServer } from "./server.ts";
import { callTool, toolName } from "./tools.ts";

export interface MetaToolHost {
  /** The enabled servers `agent` is granted. */
  serversFor(agent: string): McpServer[];
  /** The permission rule for a tool of `server`, as dispatch would decide it. */
  permission(agent: string, tool: string, server: string): { permission: "allow" | "ask" | "deny"; reason: string };
}

export function metaTool(host: MetaToolHost): ScopedTool {
  return {
    name: META_TOOL,
    forAgent: (scope): Tool => ({
      name: META_TOOL,
      description:
        `Use tools of MCP servers (${
          host
            .serversFor(scope.name)
            .map((s) => s.name)
            .join(", ") || "none granted"
        }). ` +
        "Without `tool`, lists the tools of `server` (or of every server) with their argument schemas. " +
        "With `server` and `tool`, calls that tool with `arguments`.",
      parameters: {
        type: "object",
        properties: {
          server: { type: "string", description: "The MCP server." },
          tool: { type: "string", description: "The tool to call, as listed (without the server prefix)." },
          arguments: { type: "object", description: "The tool's arguments, matching its schema." },
        },
        additionalProperties: false,
      },
      execute: async (args, ctx): Promise<ToolOutput> => {
        const servers = host.serversFor(scope.name);
        const wanted = typeof args.server === "string" ? args.server : undefined;
        const chosen = wanted === undefined ? servers : servers.filter((s) => s.name === wanted);
        if (wanted !== undefined && chosen.length === 0)
          return {
            output: `MCP server "${wanted}" is not granted to agent ${scope.name}; granted: ${servers.map((s) => s.name).join(", ") || "none"}`,
            isError: true,
          };
        if (typeof args.tool !== "string") return listTools(chosen, ctx.signal);
        if (wanted === undefined) return { output: "give `server` with `tool`", isError: true };
        const server = chosen[0]!;
        if (!server.tools) {
          try {
            await server.ensure(ctx.signal);
          } catch (err) {
            if (ctx.signal.aborted) throw err;
            return { output: `mcp server ${server.name} unavailable: ${errorMessage(err)}`, isError: true };
          }
        }
        const tool = server.tools?.find((t) => t.name === args.tool);
        if (!tool)
          return {
            output: `MCP server ${server.name} has no tool "${String(args.tool)}"; call mcp{server: "${server.name}"} to list them`,
            isError: true,
          };
        const name = toolName(server.name, tool.name);
        const rule = host.permission(scope.name, name, server.name);
        if (rule.permission !== "allow")
          return {
            output: `${name} is not allowed through the mcp tool: ${rule.permission === "ask" ? `it needs approval (${rule.reason}), which only a direct call can ask for` : rule.reason}`,
            isError: true,
          };
        const callArgs = (args.arguments ?? {}) as Record<string, unknown>;
        const errors = validate(tool.inputSchema as Record<string, unknown>, callArgs);
        if (errors.length > 0)
          return { output: `invalid arguments for ${name}: ${formatErrors(errors)}`, isError: true };
        return callTool(server, tool.name, callArgs, ctx.signal, ctx.onUpdate);
      },
    }),
  };
}

async function listTools(servers: McpServer[], signal: AbortSignal): Promise<ToolOutput> {
  const lines: string[] = [];
  for (const server of servers) {
    try {
      if (!server.tools) await server.ensure(signal);
    } catch (err) {
      if (signal.aborted) throw err;
      lines.push(`## ${server.name} (unavailable: ${errorMessage(err)})`);
      continue;
    }
    lines.push(`## ${server.name}`);
    for (const t of server.tools ?? [])
      lines.push(`- ${t.name}: ${(t.description ?? "").split("\n")[0]} args: ${JSON.stringify(t.inputSchema)}`);
  }
  return { output: lines.join("\n") };
}
