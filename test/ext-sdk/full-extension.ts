/**
 * A test extension built on the SDK that defines every capability, run as
 * its own process by the SDK tests. What it was asked is kept in memory and
 * reported by the query "state", so a test can observe hooks that answer
 * nothing (afterRun, afterCompact, onEvent). Tools:
 * - echo{text}: "echo: TEXT"; info: the ToolContext and config it saw;
 * - wait{key} / open{key}: wait blocks until open is called with its key
 *   (proves calls run concurrently, without timing);
 * - boom: throws an Error; refuse: throws a ToolFailure;
 * - ask{question}: two inferences in a row, answered "A1 | A2";
 * - hang: waits for ctx.signal (proves shutdown aborts handlers).
 */
import { defineExtension, type Json, ToolFailure } from "../../src/ext/sdk/index.ts";

const seen: { afterRun: Json[]; afterCompact: Json[]; events: Json[]; configs: Json[] } = {
  afterRun: [],
  afterCompact: [],
  events: [],
  configs: [],
};
const gates = new Map<string, () => void>();
const gate = (key: string) => new Promise<void>((r) => gates.set(key, r));

const object = (properties: Record<string, Json> = {}) => ({ type: "object", properties });

await defineExtension({
  name: "full",
  version: "1.2.3",
  infer: true,
  tools: [
    {
      name: "echo",
      description: "Echoes its text.",
      parameters: object({ text: { type: "string" } }),
      handler: (args) => `echo: ${String(args.text)}`,
    },
    {
      name: "info",
      description: "What the handler was given.",
      parameters: object(),
      handler: (_args, ctx) => ({ agent: ctx.agent, callId: ctx.callId, session: ctx.session, config: ctx.config }),
    },
    {
      name: "wait",
      description: "Waits until open{key}.",
      parameters: object({ key: { type: "string" } }),
      handler: async (args) => {
        await gate(String(args.key));
        return `opened ${String(args.key)}`;
      },
    },
    {
      name: "open",
      description: "Releases wait{key}.",
      parameters: object({ key: { type: "string" } }),
      handler: (args) => {
        const release = gates.get(String(args.key));
        if (!release) throw new ToolFailure(`nobody waits for ${String(args.key)}`);
        release();
        return "released";
      },
    },
    {
      name: "boom",
      description: "Throws.",
      parameters: object(),
      handler: () => {
        throw new Error("kaboom");
      },
    },
    {
      name: "refuse",
      description: "Fails the way a model should read.",
      parameters: object(),
      handler: () => {
        throw new ToolFailure("no results for that");
      },
    },
    {
      name: "ask",
      description: "Two inferences in a row.",
      parameters: object({ question: { type: "string" } }),
      handler: async (args, ctx) => {
        const a1 = await ctx.infer([{ role: "user", content: String(args.question) }]);
        const a2 = await ctx.infer([{ role: "user", content: `again: ${String(args.question)}` }]);
        return `${a1} | ${a2}`;
      },
    },
    {
      name: "hang",
      description: "Waits for the abort signal.",
      parameters: object(),
      handler: (_args, ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
    },
  ],
  configure(config) {
    if (config.reject) throw new Error(`config refused: ${String(config.reject)}`);
    seen.configs.push(config);
  },
  query: (query) => {
    if (query === "fail") throw new ToolFailure("a ToolFailure outside a tool");
    return query === "state" ? JSON.stringify(seen) : `query: ${query}`;
  },
  schema: () => ({ type: "object", properties: { greeting: { type: "string" } } }),
  buildAgent: (agent) => ({ promptAddition: `Be kind, ${agent.name}.`, tools: ["echo"] }),
  beforeRun: (turn) => [{ role: "user", content: `(${turn.history.length} earlier messages for ${turn.agent})` }],
  afterRun: (turn) => void seen.afterRun.push({ agent: turn.agent, n: turn.history.length, sp: turn.systemPrompt }),
  compact: (turn) => `Keep the names (${turn.agent}).`,
  afterCompact: (turn) => void seen.afterCompact.push({ agent: turn.agent, summary: turn.summary }),
  onEvent: (e) => void seen.events.push(e.event),
}).serve();
