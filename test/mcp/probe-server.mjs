#!/usr/bin/env node
/**
 * A small real MCP server (the official SDK's server side, over stdio) for
 * what the npm servers cannot show: it records the cancellations it
 * receives, changes its tool list on request, offers N tools for the
 * meta-tool threshold, reports its environment, or never answers initialize.
 *
 *   node probe-server.mjs [normal|hang-init]
 *   env PROBE_LOG=<file>   "started wait" and the cancellations it receives ("cancelled wait <reason>")
 *   env PROBE_TOOLS=<n>    extra tools t0..t<n-1>, each echoing its name
 */
import { appendFileSync } from "node:fs";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";

if (process.argv[2] === "hang-init") {
  // Reads stdin forever and answers nothing.
  process.stdin.resume();
} else {
  const log = process.env.PROBE_LOG;
  const extra = Number(process.env.PROBE_TOOLS ?? "0");
  const obj = (properties = {}, required = []) => ({ type: "object", properties, required });
  const tools = [
    {
      name: "wait",
      description: "Waits ms milliseconds unless cancelled.",
      inputSchema: obj({ ms: { type: "number" } }, ["ms"]),
    },
    { name: "add_tool", description: "Adds the tool `added` and announces the change.", inputSchema: obj() },
    { name: "fail", description: "Always answers an error result.", inputSchema: obj() },
    { name: "env", description: "The environment variable names this server sees.", inputSchema: obj() },
    ...Array.from({ length: extra }, (_, i) => ({
      name: `t${i}`,
      description: `Tool number ${i}.`,
      inputSchema: obj(),
    })),
  ];
  const server = new Server({ name: "probe", version: "1.0.0" }, { capabilities: { tools: { listChanged: true } } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, async (req, ctx) => {
    const name = req.params.name;
    const text = (t) => ({ content: [{ type: "text", text: t }] });
    if (name === "wait") {
      const ms = Number(req.params.arguments?.ms ?? 0);
      if (log) appendFileSync(log, "started wait\n");
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          if (log) appendFileSync(log, `cancelled wait ${String(ctx.signal.reason)}\n`);
          resolve();
        });
      });
      return text(`waited ${ms} ms`);
    }
    if (name === "add_tool") {
      if (!tools.some((t) => t.name === "added"))
        tools.push({ name: "added", description: "Added at run time.", inputSchema: obj() });
      await server.sendToolListChanged();
      return text("added");
    }
    if (name === "fail") return { content: [{ type: "text", text: "probe failed on purpose" }], isError: true };
    if (name === "env") return text(Object.keys(process.env).sort().join(","));
    if (tools.some((t) => t.name === name)) return text(`${name} ran`);
    return { content: [{ type: "text", text: `no tool ${name}` }], isError: true };
  });
  await server.connect(new StdioServerTransport());
}
