/**
 * `crabtalk send [--agent NAME] [--session ID] [--json] MESSAGE`: one turn
 * for scripts. Prints the final answer (the text after the last tool
 * round); `--json` prints every event of the turn as one JSON object per
 * line, in the wire shape (`{"event":"chunk","chunk":{...},"seq":3,...}`).
 * MESSAGE `-` reads the message from stdin. A failed turn exits 1 with the
 * error on stderr. Nobody can answer an approval prompt from a script, so
 * approvals are denied at once (with a reason the model sees) instead of
 * hanging until they time out. Ctrl-C cancels the turn on the daemon.
 * If the daemon drops this client for falling behind (408), send attaches
 * again after the last event it printed and goes on: the user never has to.
 */
import { defineCommand } from "citty";
import { probeOutputSoon, writeOut } from "./render/pipe.ts";
import type { StreamEvent } from "../protocol/gen/crabtalk.ts";
import { CliFailure, EXIT_USAGE, connectionArgs, printJson, withClient } from "./shared.ts";
import { visibleControls } from "./render/sanitize.ts";
import { colorEnabled, makeStyle } from "./render/style.ts";
import { describeStop, formatUsage } from "./render/format.ts";
import { followTurn } from "../client/turn.ts";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export const sendCommand = defineCommand({
  meta: {
    name: "send",
    description:
      "Send one message and print the answer (`-` reads it from stdin). --json prints every event, one JSON object per line.",
  },
  args: {
    ...connectionArgs,
    message: {
      type: "positional",
      required: true,
      description: "The message, or - to read it from stdin",
      valueHint: "MESSAGE",
    },
    agent: {
      type: "string",
      alias: "a",
      description: "Agent to ask (default crab; a --session keeps its own agent)",
      valueHint: "NAME",
    },
    session: {
      type: "string",
      alias: "s",
      description: "Continue this session instead of starting a new one",
      valueHint: "ID",
    },
    json: { type: "boolean", description: "Print every event as one JSON object per line" },
  },
  async run({ args }) {
    let session: number | undefined;
    if (args.session !== undefined) {
      session = Number(args.session);
      if (!Number.isSafeInteger(session) || session <= 0)
        throw new CliFailure(`--session expects a session id (a whole number), got "${args.session}"`, EXIT_USAGE);
    }
    // Like $(...) in a shell: the newline that ends piped text is not part of the message.
    const content = args.message === "-" ? (await readStdin()).replace(/\n+$/, "") : args.message;
    if (!content.trim())
      throw new CliFailure("empty message: give the text to send, or - to read it from stdin", EXIT_USAGE);
    const agent = args.agent ?? (session ? "" : "crab");
    await withClient(args, async (client) => {
      let sessionId = session ?? 0;
      let answer = "";
      let end: StreamEvent["end"];
      const onSigint = () => {
        if (sessionId) client.request({ cancel: { session: sessionId } }).catch(() => {});
        else process.exit(130);
      };
      process.on("SIGINT", onSigint);
      // Runs once the request below is on its way: what stdout and stderr are is found while the daemon works.
      const output = probeOutputSoon();
      try {
        for await (const ev of followTurn(client, { agent, content, session, sender: "cli" })) {
          if (args.json) printJson(ev);
          if (ev.event === "start") sessionId = ev.start!.session;
          if (ev.event === "chunk") answer += ev.chunk!.content;
          // A new model call after tools: only the final answer counts.
          if (ev.event === "toolStart") answer = "";
          if (ev.event === "approval") {
            const a = ev.approval!;
            process.stderr.write(
              `crabtalk: denied ${visibleControls(a.tool)}: it needs approval and send cannot ask (use crabtalk attach)\n`,
            );
            await client
              .request({
                approve: {
                  callId: a.callId,
                  response: "deny",
                  session: sessionId,
                  reason: "the user ran a non-interactive `crabtalk send`; nobody can approve this call now",
                  taskId: 0,
                },
              })
              .catch(() => {});
          }
          if (ev.event === "end") end = ev.end;
        }
      } finally {
        process.off("SIGINT", onSigint);
      }
      if (!end) throw new CliFailure("the turn ended without a result");
      if (!args.json) {
        // On a terminal the model's control sequences are shown, not obeyed; a pipe gets the exact text.
        const kind = await output;
        const shown = kind.stdoutTTY ? visibleControls(answer) : answer;
        await writeOut(shown.endsWith("\n") || shown === "" ? shown : `${shown}\n`, kind);
        if (kind.stderrTTY) {
          const style = makeStyle(colorEnabled(true));
          const stop = describeStop(end.stopReason);
          process.stderr.write(
            `${style.paint(
              "dim",
              `─ session ${sessionId} · ${visibleControls(end.model)} · ${formatUsage(end.usage)}${stop ? ` · ${stop}` : ""}`,
            )}\n`,
          );
        }
      }
      if (end.stopReason === "aborted") throw new CliFailure("the turn was cancelled", 130);
    });
  },
});
