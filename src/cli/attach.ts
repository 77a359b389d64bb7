/**
 * `crabtalk attach [--agent NAME] [--session ID | --new | --last]`: the chat
 * REPL. One session across turns; answers stream with Markdown, thinking
 * dimmed, one line per tool call, a footer per turn; Ctrl-C cancels the
 * turn in flight and keeps the REPL, Ctrl-D or /exit leaves. Survives
 * daemon restarts (see attach/repl.ts). With stdout not a terminal it
 * prints plain text with no escape codes; with stdin not a terminal it
 * reads one message per line.
 */
import { defineCommand } from "citty";
import { pathsFor, resolveHome } from "../config/paths.ts";
import { DaemonNotRunning } from "../client/client.ts";
import { CliFailure, EXIT_USAGE, connectionArgs, clientOptions } from "./shared.ts";
import { colorEnabled, columnsOf, makeStyle } from "./render/style.ts";
import { TurnRenderer } from "./render/turn.ts";
import { TerminalInput } from "./attach/input.ts";
import { AttachRepl } from "./attach/repl.ts";
import { runSlash } from "./attach/slash.ts";
import { completeSlash, isAttachCommand, skillLister } from "./attach/complete.ts";
import { recap } from "./attach/recap.ts";

export const attachCommand = defineCommand({
  meta: {
    name: "attach",
    description:
      "Chat with an agent: a REPL that keeps one session across turns. Ctrl-C cancels a turn, Ctrl-D or /exit leaves, /help lists commands.",
  },
  args: {
    ...connectionArgs,
    agent: { type: "string", alias: "a", default: "crab", description: "Agent to talk to", valueHint: "NAME" },
    session: {
      type: "string",
      alias: "s",
      description: "Continue this session (shows a turn in flight)",
      valueHint: "ID",
    },
    new: { type: "boolean", description: "Start a new session (the default)" },
    last: { type: "boolean", description: "Continue the agent's most recently active session" },
  },
  async run({ args }) {
    const picked = [args.session !== undefined, Boolean(args.new), Boolean(args.last)].filter(Boolean).length;
    if (picked > 1) throw new CliFailure("choose one of --session ID, --new and --last", EXIT_USAGE);
    let sessionId: number | undefined;
    if (args.session !== undefined) {
      sessionId = Number(args.session);
      if (!Number.isSafeInteger(sessionId) || sessionId <= 0)
        throw new CliFailure(`--session expects a session id (a whole number), got "${args.session}"`, EXIT_USAGE);
    }
    const out = process.stdout;
    const style = makeStyle(colorEnabled(Boolean(out.isTTY)));
    const width = () => columnsOf(out);
    const write = (text: string) => void out.write(text);
    const renderer = new TurnRenderer({
      style,
      sink: { write, isTTY: Boolean(out.isTTY), columns: width },
      animate: Boolean(out.isTTY),
    });
    const skills = skillLister();
    const input = new TerminalInput(
      pathsFor(resolveHome()).history,
      process.stdin,
      process.stdout,
      async (line): Promise<[string[], string]> => completeSlash(line, await skills(repl.agent)),
    );
    const repl: AttachRepl = new AttachRepl({
      endpoint: clientOptions(args),
      agent: args.agent || "crab",
      session: sessionId,
      input,
      renderer,
      style,
      out: write,
    });
    try {
      await repl.connect();
    } catch (err) {
      if (err instanceof DaemonNotRunning) throw new CliFailure(err.message);
      // A malformed --tcp or --socket: say what was wrong, no stack.
      throw new CliFailure(err instanceof Error ? err.message : String(err), EXIT_USAGE);
    }
    try {
      if (args.last) {
        const list = await repl.request({ sessions: { agent: repl.agent, offset: 0, limit: 1 } });
        const last = list?.sessions?.sessions[0];
        if (last) repl.session = last.id;
        else write(style.paint("dim", `no sessions of ${repl.agent} yet: starting a new one\n`));
      }
      if (repl.session !== null) {
        const history = await repl.client!.request({ getHistory: { session: repl.session } }).catch((err: unknown) => {
          throw new CliFailure(err instanceof Error ? err.message : String(err));
        });
        repl.agent = history.history!.agent;
        for (const line of recap(history.history!.messages, style, width())) write(`${line}\n`);
      }
      const where = repl.session !== null ? `session ${repl.session}` : "new session";
      write(`${style.paint("dim", `crabtalk · ${repl.agent} · ${where} · /help for commands, Ctrl-D to leave`)}\n`);
      if (repl.session !== null) await repl.watch(repl.session);
      await loop(
        repl,
        input,
        style,
        width,
        async (word) => !isAttachCommand(word) && (await skills(repl.agent)).includes(word),
      );
    } finally {
      input.close();
      repl.close();
    }
  },
});

async function loop(
  repl: AttachRepl,
  input: TerminalInput,
  style: ReturnType<typeof makeStyle>,
  width: () => number,
  isSkill: (word: string) => Promise<boolean>,
): Promise<void> {
  const prompt = style.paint("cyan", "› ");
  for (;;) {
    while (repl.turn) await repl.turn.done;
    const line = await input.readLine(prompt);
    if (line === null) {
      if (input.tty) process.stdout.write("\n");
      return;
    }
    const text = line.trim();
    if (!text) continue;
    if (!input.tty) process.stdout.write(`› ${text}\n`);
    // `/skill rest` goes to the daemon, which expands it; attach's own commands run here.
    if (text.startsWith("/") && !(await isSkill(text.slice(1).split(/\s+/)[0]!))) {
      if ((await runSlash(repl, text, style, width())) === "exit") return;
      continue;
    }
    await repl.runTurn(text);
  }
}
