/**
 * The official MCP SDK, loaded on first use. Nothing else in the daemon
 * imports it statically: a daemon with no MCP server configured never
 * parses it (the SDK's client costs about 94 ms at start, mostly zod), and
 * the compiled binary keeps these chunks inside and parses them only here
 * (scripts/build-binary.ts builds with splitting).
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import type * as Types from "@modelcontextprotocol/sdk/types.js";
import { logger } from "../util/log.ts";

const log = logger("mcp");

export interface ClientSdk {
  Client: typeof Client;
  StdioClientTransport: typeof StdioClientTransport;
  StreamableHTTPClientTransport: typeof StreamableHTTPClientTransport;
  SSEClientTransport: typeof SSEClientTransport;
  ToolListChangedNotificationSchema: typeof Types.ToolListChangedNotificationSchema;
  McpError: typeof Types.McpError;
  ErrorCode: typeof Types.ErrorCode;
}

let loading: Promise<ClientSdk> | null = null;

/** The client side of the SDK; imported once, on the first connect. */
export function clientSdk(): Promise<ClientSdk> {
  loading ??= (async () => {
    const started = performance.now();
    const [client, stdio, http, sse, types] = await Promise.all([
      import("@modelcontextprotocol/sdk/client/index.js"),
      import("@modelcontextprotocol/sdk/client/stdio.js"),
      import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
      import("@modelcontextprotocol/sdk/client/sse.js"),
      import("@modelcontextprotocol/sdk/types.js"),
    ]);
    log.info(`MCP SDK loaded in ${Math.round(performance.now() - started)} ms`);
    return {
      Client: client.Client,
      StdioClientTransport: stdio.StdioClientTransport,
      StreamableHTTPClientTransport: http.StreamableHTTPClientTransport,
      SSEClientTransport: sse.SSEClientTransport,
      ToolListChangedNotificationSchema: types.ToolListChangedNotificationSchema,
      McpError: types.McpError,
      ErrorCode: types.ErrorCode,
    };
  })();
  loading.catch(() => (loading = null));
  return loading;
}

export type McpClient = Client;
export type McpTool = Types.Tool;
export type McpCallResult = Types.CallToolResult;
