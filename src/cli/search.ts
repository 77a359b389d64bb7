/**
 * `crabtalk search serve --socket PATH`: the official search extension
 * (web_search, web_fetch), run by the daemon as its own process when
 * crabtalk.toml has `[services.search] command = "crabtalk" args = ["search"]`.
 * The extension is imported only when this command runs, so no other
 * command (the daemon above all) loads it.
 */
import { defineCommand } from "citty";
import { VERSION } from "../util/version.ts";

export const searchCommand = defineCommand({
  meta: {
    name: "search",
    description:
      "The search extension (web_search, web_fetch). The daemon runs it for [services.search]; by hand: crabtalk search serve --socket PATH",
  },
  args: {
    socket: { type: "string", description: "The Unix socket to listen on (with `serve`)", valueHint: "PATH" },
  },
  async run({ rawArgs }) {
    const { searchExtension } = await import("../ext/search/index.ts");
    await searchExtension(VERSION).serve(rawArgs);
  },
});
