#!/usr/bin/env bun
/**
 * The smallest useful crabtalk extension: one tool, `greet`, whose greeting
 * comes from the service's `config` table, and one line added to every
 * agent's system prompt. See README.md beside it for how to run it.
 */
import { defineExtension } from "../../src/ext/sdk/index.ts";

await defineExtension({
  name: "hello",
  version: "0.1.0",
  tools: [
    {
      name: "greet",
      description: "Greets someone by name.",
      parameters: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
      handler: (args, ctx) => `${String(ctx.config.greeting ?? "Hello")}, ${String(args.name)}!`,
    },
  ],
  buildAgent: () => ({ promptAddition: "You can greet people with the greet tool." }),
}).serve();
