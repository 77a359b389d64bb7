/**
 * `crabtalk agents`: each configured agent, its model, and what each of its
 * tool grants resolves to right now (a grant such as "fs__*" matches
 * nothing until the server that brings those tools is up).
 */
import { defineCommand } from "citty";
import { visibleControls as sanitize } from "./render/sanitize.ts";
import { connectionArgs, printJson, withClient } from "./shared.ts";

export const agentsCommand = defineCommand({
  meta: {
    name: "agents",
    description:
      "List the daemon's agents with their model and tool grants, each grant with the tools it matches now (names, patterns like fs__*, sources like search/*).",
  },
  args: { ...connectionArgs, json: { type: "boolean", description: "Print one JSON array instead of text" } },
  async run({ args }) {
    await withClient(args, async (client) => {
      const agents = (await client.request({ status: {} })).status!.agents;
      if (args.json) return printJson(agents);
      for (const a of agents) {
        process.stdout.write(`${sanitize(a.agent)}  (${sanitize(a.model)})\n`);
        if (a.grants.length === 0) process.stdout.write("  no tools granted\n");
        for (const g of a.grants) {
          const tools = g.tools.length > 0 ? g.tools.join(", ") : "nothing yet";
          process.stdout.write(`  ${sanitize(g.grant).padEnd(14)} ${sanitize(tools)}\n`);
        }
      }
    });
  },
});
