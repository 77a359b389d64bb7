/**
 * Shared pieces of the MCP end-to-end tests: where the real MCP servers
 * from npm (dev dependencies, run with Node) and the probe server live,
 * scripting a model call to a tool, and reading the daemon's server list.
 */
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import type { McpServerInfo, StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { sseReply, type FakeProvider, type RecordedRequest } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";

const NM = join(import.meta.dir, "..", "..", "node_modules", "@modelcontextprotocol");
export const EVERYTHING = join(NM, "server-everything", "dist", "index.js");
export const FILESYSTEM = join(NM, "server-filesystem", "dist", "index.js");
export const MEMORY = join(NM, "server-memory", "dist", "index.js");
export const PROBE = join(import.meta.dir, "probe-server.mjs");

/** A `[mcp.<name>]` section running `node <script> <args>`. */
export function stdioServer(name: string, script: string, args: string[] = [], extra = ""): string {
  return `[mcp.${name}]\ncommand = "node"\nargs = ${JSON.stringify([script, ...args])}\n${extra}\n`;
}

/** Scripts one model reply calling `tool` with `args`, then (unless the turn will be cancelled) a text answer. */
export function scriptCall(fake: FakeProvider, tool: string, args: Record<string, unknown>, answer = true): void {
  fake.enqueue(sseReply(openaiSse({ model: "fake-model", toolCalls: [{ id: "call_1", name: tool, args }] })));
  if (answer) fake.enqueue(sseReply(openaiSse({ model: "fake-model", text: "done" })));
}

export async function servers(c: CrabtalkClient): Promise<McpServerInfo[]> {
  return (await c.request({ mcpServers: {} })).mcpServers!.servers;
}

export async function server(c: CrabtalkClient, name: string): Promise<McpServerInfo> {
  const s = (await servers(c)).find((x) => x.name === name);
  if (!s) throw new Error(`no server ${name} in the daemon's list`);
  return s;
}

/** The tool names a recorded model request offered. */
export function offeredTools(req: RecordedRequest): string[] {
  const body = req.body as { tools?: { function: { name: string } }[] } | undefined;
  return (body?.tools ?? []).map((t) => t.function.name);
}

export function resultOf(events: StreamEvent[]): NonNullable<StreamEvent["toolResult"]> {
  const r = events.find((e) => e.toolResult)?.toolResult;
  if (!r) throw new Error("the turn had no tool result");
  return r;
}
