/**
 * Built-in memory as the daemon serves it: which folder each agent uses
 * (`[agents.x] memory`: shared = $CRABTALK_HOME/memory, own =
 * memory/<agent>/, off = none), the tools remember, forget, recall and
 * memory, MEMORY.md for the system prompt, and auto-recall for a turn.
 *
 * Replacing it: with `[memory] backend = "off"` none of this is installed,
 * and an extension with the Tools, BeforeRun and AfterRun capabilities can
 * provide memory instead (its tools granted like any, its BeforeRun
 * injecting recalled text, its AfterRun seeing each finished turn).
 */
import { join } from "node:path";
import type { Tool, ToolOutput } from "../agent/types.ts";
import type { MemoryScope } from "../config/memory.ts";
import type { Message } from "../provider/types.ts";
import { MemoryInputError, MemoryStore, type MemoryEntry } from "./store.ts";

const DEFAULT_RECALL = 5;
const MAX_RECALL = 50;

export class MemoryService {
  private readonly stores = new Map<string, MemoryStore>();

  constructor(
    /** $CRABTALK_HOME/memory. */
    readonly root: string,
    private readonly scopeOf: (agent: string) => MemoryScope,
    private readonly warn: (message: string) => void = () => {},
  ) {}

  /** The agent's store; undefined when its memory is off. */
  storeFor(agent: string): MemoryStore | undefined {
    const scope = this.scopeOf(agent);
    if (scope === "off") return undefined;
    const dir = scope === "own" ? join(this.root, agent) : this.root;
    const store = this.stores.get(dir) ?? new MemoryStore(dir, this.warn);
    this.stores.set(dir, store);
    return store;
  }

  /** MEMORY.md in a <memory> block, for the system prompt; undefined when empty or off. */
  async prompt(agent: string): Promise<string | undefined> {
    const text = (await this.storeFor(agent)?.readIndex())?.trim();
    return text ? `<memory>\n${text}\n</memory>` : undefined;
  }

  /** The top `limit` entries for the turn's latest user message, as one injected message. */
  async autoRecall(agent: string, history: readonly Message[], limit: number): Promise<Message[] | undefined> {
    const store = this.storeFor(agent);
    const last = history.at(-1);
    if (!store || limit <= 0 || last?.role !== "user" || typeof last.content !== "string") return undefined;
    const hits = await store.recall(last.content, limit);
    if (hits.length === 0) return undefined;
    const body = hits.map((h) => render(h.entry)).join("\n\n");
    return [
      {
        role: "user",
        content: `<recalled>\nMemory entries that may bear on the next message:\n\n${body}\n</recalled>`,
      },
    ];
  }

  tools(): Tool[] {
    return [
      this.tool(
        "remember",
        "Save a memory entry (creates it, or replaces the entry of that name): one fact, preference or decision per entry.",
        {
          name: { type: "string", description: "Short unique name" },
          description: { type: "string", description: "One line: what it is about (helps recall)" },
          content: { type: "string" },
          aliases: { type: "array", items: { type: "string" }, description: "Other names it goes by" },
        },
        ["name", "description", "content"],
        async (store, args) => {
          const file = await store.remember({
            name: String(args.name),
            description: String(args.description),
            content: String(args.content),
            ...(Array.isArray(args.aliases) ? { aliases: args.aliases.map(String) } : {}),
          });
          return { output: `remembered "${String(args.name).trim()}" (${file})` };
        },
      ),
      this.tool(
        "forget",
        "Delete the memory entry with this name (or alias).",
        { name: { type: "string" } },
        ["name"],
        async (store, args) => {
          const file = await store.forget(String(args.name));
          return file
            ? { output: `forgot "${String(args.name)}" (${file})` }
            : { output: `no memory entry is called "${String(args.name)}"`, isError: true };
        },
      ),
      this.tool(
        "recall",
        "Search memory (BM25 over names, descriptions, aliases and content; `word*` matches a prefix). Returns the best entries with their names.",
        {
          query: { type: "string" },
          limit: { type: "integer", minimum: 1, maximum: MAX_RECALL, description: `default ${DEFAULT_RECALL}` },
        },
        ["query"],
        async (store, args) => {
          const limit = typeof args.limit === "number" ? Math.min(MAX_RECALL, args.limit) : DEFAULT_RECALL;
          const hits = await store.recall(String(args.query), limit);
          if (hits.length === 0) return { output: `nothing in memory matches "${String(args.query)}"` };
          return {
            output: hits.map((h) => render(h.entry)).join("\n\n"),
            details: { hits: hits.map((h) => ({ name: h.entry.name, score: h.score })) },
          };
        },
      ),
      this.tool(
        "memory",
        "Replace MEMORY.md, the notes that are always in your system prompt. Keep it short; put details in entries (remember).",
        { content: { type: "string" } },
        ["content"],
        async (store, args) => ({ output: `MEMORY.md replaced (${await store.writeIndex(String(args.content))})` }),
      ),
    ];
  }

  private tool(
    name: string,
    description: string,
    properties: Record<string, unknown>,
    required: string[],
    run: (store: MemoryStore, args: Record<string, unknown>) => Promise<ToolOutput>,
  ): Tool {
    return {
      name,
      description,
      parameters: { type: "object", properties, required, additionalProperties: false },
      execute: async (args, ctx) => {
        const store = this.storeFor(ctx.agent);
        if (!store)
          return {
            output: `memory is off for agent ${ctx.agent} ([agents.${ctx.agent}] memory = "off")`,
            isError: true,
          };
        try {
          return await run(store, args);
        } catch (err) {
          if (err instanceof MemoryInputError) return { output: err.message, isError: true };
          throw err;
        }
      },
    };
  }
}

function render(e: MemoryEntry): string {
  const aliases = e.aliases.length > 0 ? `\naliases: ${e.aliases.join(", ")}` : "";
  return `## ${e.name}\n${e.description}${aliases}\n\n${e.content}`;
}
