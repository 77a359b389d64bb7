/**
 * `crabtalk acp [--agent A] [--socket PATH | --tcp ...]`: the Agent Client
 * Protocol over stdin/stdout, for editors (Zed, JetBrains, Neovim) that run
 * an agent as a child process. It is a client of the running daemon: the
 * editor's sessions are ordinary daemon sessions that `attach` and `events`
 * see, and a turn runs on when the editor closes. The bridge and the ACP
 * SDK are imported only when this command runs (the SDK costs tens of
 * milliseconds at import; no other command pays for it).
 */
import { Readable, Writable } from "node:stream";
import { defineCommand } from "citty";
import { CliFailure, connectionArgs, withClient } from "./shared.ts";

export const acpCommand = defineCommand({
  meta: {
    name: "acp",
    description:
      "Serve the Agent Client Protocol on stdin/stdout for an editor (Zed, JetBrains, Neovim), as a client of the running daemon",
  },
  args: {
    ...connectionArgs,
    agent: {
      type: "string",
      alias: "a",
      description: "Agent that new sessions start with (default crab); the editor can switch between agents as modes",
      valueHint: "NAME",
    },
  },
  async run({ args }) {
    // Connect first: with no daemon, the editor gets a clear error on stderr and a non-zero exit, not a silent hang.
    await withClient(args, async (daemon) => {
      const { serveAcp } = await import("../acp/bridge.ts");
      const end = await serveAcp({
        daemon,
        agent: args.agent,
        input: Readable.toWeb(process.stdin) as ReadableStream<Uint8Array>,
        output: Writable.toWeb(process.stdout) as WritableStream<Uint8Array>,
        log: (line) => process.stderr.write(`crabtalk acp: ${line}\n`),
      });
      if (end === "daemon-gone")
        throw new CliFailure(
          "the crabtalk daemon closed the connection (stopped or restarted); start it with `crabtalk daemon` and reopen the agent in the editor",
        );
    });
  },
});
