/**
 * MCP requests: the servers with their state and tools (`crabtalk mcp`,
 * `crabtalk mcp tools NAME`) and a direct tool call (`crabtalk mcp call`).
 * With no server configured the list is empty and a call is 404.
 */
import { renderOutput } from "../../agent/dispatch.ts";
import type { McpHub, McpServerStatus } from "../../mcp/hub.ts";
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import type { McpServerInfo } from "../../protocol/gen/crabtalk.ts";
import type { HandlerTable } from "../router.ts";

export function mcpHandlers(hub: () => McpHub | null): HandlerTable {
  return {
    mcpServers: async (req, ctx) => {
      const h = hub();
      if (!h) {
        if (req.server !== undefined) throw notFound(req.server);
        return { mcpServers: { servers: [] } };
      }
      if (req.server === undefined) return { mcpServers: { servers: h.list().map(info) } };
      return { mcpServers: { servers: [info(await h.describe(req.server, ctx.signal).catch(rethrow))] } };
    },
    mcpCall: async (req, ctx) => {
      const h = hub();
      if (!h) throw notFound(req.server);
      let args: unknown = {};
      if (req.arguments.trim() !== "") {
        try {
          args = JSON.parse(req.arguments);
        } catch (err) {
          throw new WireError(ErrorCode.BadRequest, `arguments are not JSON: ${(err as Error).message}`);
        }
      }
      if (typeof args !== "object" || args === null || Array.isArray(args))
        throw new WireError(ErrorCode.BadRequest, 'arguments must be a JSON object, like {"path": "a.txt"}');
      const started = Date.now();
      const out = await h.call(req.server, req.tool, args as Record<string, unknown>, ctx.signal).catch(rethrow);
      return {
        mcpResult: { output: renderOutput(out), isError: out.isError === true, durationMs: Date.now() - started },
      };
    },
  };
}

function notFound(server: string): WireError {
  return new WireError(ErrorCode.NotFound, `no MCP server is called "${server}"; none is configured`);
}

function rethrow(err: unknown): never {
  if (err instanceof Error && err.name === "McpNotFound") throw new WireError(ErrorCode.NotFound, err.message);
  throw err;
}

function info(s: McpServerStatus): McpServerInfo {
  return {
    name: s.name,
    transport: s.transport,
    target: s.target,
    state: s.state,
    error: s.error,
    toolsKnown: s.tools !== null,
    toolCount: s.tools?.length ?? 0,
    tools: (s.tools ?? []).map((t) => ({
      name: t.name,
      serverTool: t.serverTool,
      description: t.description,
      inputSchema: JSON.stringify(t.inputSchema),
    })),
    pid: s.pid,
    restarts: s.restarts,
    lastUsedMs: s.lastUsedMs,
  };
}
