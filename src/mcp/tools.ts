/**
 * MCP tools as registry tools: `<server>__<tool>` with the server's JSON
 * Schema and description (dispatch checks arguments against that schema,
 * grants, permissions and budgets like any other tool), and the server's
 * results turned into what the model reads:
 *
 *   text content joined; structuredContent as JSON; images and embedded
 *   resources summarized as type and size; isError an error result;
 *   a server that cannot be reached "mcp server <name> unavailable: <why>".
 *
 * Cancelling the call (ctx.signal) makes the SDK send the server
 * notifications/cancelled for the request in flight.
 */
import type { ContentBlock, Tool, ToolOutput } from "../agent/types.ts";
import { errorMessage } from "../util/abort.ts";
import type { McpCallResult, McpTool } from "./sdk.ts";
import { isTransportFailure, McpUnavailable, type McpServer } from "./server.ts";

/** Provider tool names allow [A-Za-z0-9_-] up to 64 characters. */
export function toolName(server: string, tool: string): string {
  return `${server}__${tool.replace(/[^A-Za-z0-9_-]/g, "_")}`.slice(0, 64);
}

/** The registry tool for one of `server`'s tools. */
export function registryTool(server: McpServer, tool: McpTool): Tool {
  return {
    name: toolName(server.name, tool.name),
    description: tool.description ?? tool.title ?? `${tool.name} from MCP server ${server.name}`,
    parameters: tool.inputSchema as Record<string, unknown>,
    execute: (args, ctx) => callTool(server, tool.name, args, ctx.signal, ctx.onUpdate),
  };
}

/** Runs one call and renders its result; never throws except on abort (dispatch reports "cancelled"). */
export async function callTool(
  server: McpServer,
  tool: string,
  args: Record<string, unknown>,
  signal: AbortSignal,
  onProgress?: (text: string) => void,
): Promise<ToolOutput> {
  const started = Date.now();
  try {
    const result = await server.call(tool, args, signal, onProgress);
    return { ...renderResult(result), details: { server: server.name, tool, durationMs: Date.now() - started } };
  } catch (err) {
    if (signal.aborted) throw err;
    const details = { server: server.name, tool, durationMs: Date.now() - started };
    if (err instanceof McpUnavailable)
      return { output: `mcp server ${server.name} unavailable: ${err.message}`, isError: true, details };
    if (isTransportFailure(err))
      return { output: `mcp server ${server.name} unavailable: ${errorMessage(err)}`, isError: true, details };
    if ((err as { code?: unknown }).code === -32001)
      return {
        output: `mcp server ${server.name} did not answer ${tool} within ${server.config.callTimeoutMs} ms (call_timeout_ms)`,
        isError: true,
        details,
      };
    return { output: `mcp server ${server.name}: ${errorMessage(err)}`, isError: true, details };
  }
}

export function renderResult(result: McpCallResult): ToolOutput {
  const texts: string[] = [];
  const content: ContentBlock[] = [];
  for (const block of result.content ?? []) {
    switch (block.type) {
      case "text":
        texts.push(block.text);
        break;
      case "image":
      case "audio":
        content.push({ type: "image", mimeType: block.mimeType, bytes: base64Bytes(block.data) });
        break;
      case "resource": {
        const r = block.resource;
        const bytes = "text" in r ? r.text.length : base64Bytes(r.blob);
        content.push({ type: "resource", uri: r.uri, ...(r.mimeType ? { mimeType: r.mimeType } : {}), bytes });
        break;
      }
      case "resource_link":
        content.push({ type: "resource", uri: block.uri, ...(block.mimeType ? { mimeType: block.mimeType } : {}) });
        break;
    }
  }
  // Servers often repeat structuredContent as its JSON text: shown once, not twice.
  if (result.structuredContent !== undefined && !repeats(texts, result.structuredContent))
    content.push({ type: "json", value: result.structuredContent });
  const output: ToolOutput = { output: texts.join("\n") };
  if (content.length > 0) output.content = content;
  if (result.isError === true) output.isError = true;
  return output;
}

function repeats(texts: string[], value: unknown): boolean {
  try {
    return texts.length === 1 && JSON.stringify(JSON.parse(texts[0]!)) === JSON.stringify(value);
  } catch {
    return false;
  }
}

function base64Bytes(data: string): number {
  const padding = data.endsWith("==") ? 2 : data.endsWith("=") ? 1 : 0;
  return Math.max(0, Math.floor((data.length * 3) / 4) - padding);
}
