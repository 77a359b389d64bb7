/**
 * `crabtalk events [--agent NAME] [--json]` (also `crabtalk --events`): a
 * live console of every agent's events across sessions, one line per
 * thing that happened (render/events-line.ts). It is meant to be left
 * open: when the daemon is not running it waits for it, and when the
 * daemon restarts it says so and subscribes again. `--json` prints each
 * AgentEvent as one JSON object per line, for piping; notices about the
 * connection go to stderr so that stdout stays pure JSON.
 */
import { defineCommand } from "citty";
import { exitQuietlyOnBrokenPipe } from "./render/pipe.ts";
import { CrabtalkClient, DaemonError, DaemonNotRunning, Disconnected } from "../client/client.ts";
import { connectionArgs, printJson, clientOptions } from "./shared.ts";
import { colorEnabled, columnsOf, makeStyle } from "./render/style.ts";
import { EventLines } from "./render/events-line.ts";

/** Between reconnect attempts: fast enough to catch a restart, slow enough to cost nothing while the daemon is down. */
const RETRY_MS = 500;

export const eventsCommand = defineCommand({
  meta: {
    name: "events",
    description:
      "Watch every agent's events live across sessions (turns, tools, approvals, tokens). Keeps running across daemon restarts; Ctrl-C leaves.",
  },
  args: {
    ...connectionArgs,
    agent: { type: "string", alias: "a", description: "Only this agent's events", valueHint: "NAME" },
    json: { type: "boolean", description: "Print each event as one JSON object per line" },
  },
  async run({ args }) {
    exitQuietlyOnBrokenPipe();
    const out = process.stdout;
    const style = makeStyle(colorEnabled(Boolean(out.isTTY)));
    const lines = new EventLines(style, () => columnsOf(out));
    const notice = (text: string) => {
      if (args.json) process.stderr.write(`crabtalk: ${text}\n`);
      else out.write(`${style.paint("dim", `── ${text}`)}\n`);
    };
    const endpoint = clientOptions(args);
    let waitingSaid = false;
    let everConnected = false;
    for (;;) {
      let client: CrabtalkClient;
      try {
        client = await CrabtalkClient.connect(endpoint);
      } catch (err) {
        if (!(err instanceof DaemonNotRunning)) throw err;
        if (!waitingSaid)
          notice(
            everConnected
              ? "the daemon is gone; waiting for it to come back…"
              : "the daemon is not running; waiting for it (start it with `crabtalk daemon`)…",
          );
        waitingSaid = true;
        await Bun.sleep(RETRY_MS);
        continue;
      }
      notice(
        everConnected
          ? "reconnected: watching events again"
          : `watching ${args.agent ? `${args.agent}'s` : "every agent's"} events (Ctrl-C to leave)`,
      );
      everConnected = true;
      waitingSaid = false;
      try {
        for await (const reply of client.stream({ subscribeEvents: { agent: args.agent || undefined } })) {
          const event = reply.event;
          if (!event) continue;
          if (args.json) printJson(event);
          else for (const l of lines.lines(event)) out.write(`${l}\n`);
        }
      } catch (err) {
        if (err instanceof DaemonError) notice(`the daemon ended the subscription: ${err.message}`);
        else if (!(err instanceof Disconnected)) throw err;
      } finally {
        client.close();
      }
      notice("lost the connection to the daemon; waiting for it to come back…");
      waitingSaid = true;
      await Bun.sleep(RETRY_MS);
    }
  },
});
