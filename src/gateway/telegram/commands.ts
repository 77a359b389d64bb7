/**
 * The chat commands. They act at once, beside the chat's queue: /stop must
 * reach a running turn, and /status must answer while one runs.
 *   /new           the next message starts a fresh session
 *   /stop          cancels the running turn (or the one starting: see turn.ts) and drops queued messages
 *   /agent [NAME]  shows or switches the chat's agent
 *   /status        agent, session, running or idle, tokens today
 *   /sessions      the chat's recent sessions
 */
import type { CrabtalkClient } from "../../client/client.ts";
import { readAgents } from "./agents.ts";
import type { ChatQueues } from "./queue.ts";
import type { ChatSessions } from "./state.ts";
import type { Starting } from "./turn.ts";

export interface CommandDeps {
  daemon: CrabtalkClient;
  sessions: ChatSessions;
  queues: ChatQueues;
  running: Map<number, number>;
  starting: Map<number, Starting>;
  home: string;
}

export const HELP = [
  "Send a message to talk to the agent. Commands:",
  "/new – start a new session",
  "/stop – stop the running answer",
  "/agent NAME – switch agent (/agent alone lists them)",
  "/status – agent, session, tokens today",
  "/sessions – recent sessions of this chat",
].join("\n");

/** Parses "/cmd args"; null when the text is not a command. */
export function parseCommand(text: string): { name: string; arg: string } | null {
  const m = /^\/([a-z_]+)(?:@\w+)?(?:\s+([\s\S]*))?$/i.exec(text.trim());
  return m ? { name: m[1]!.toLowerCase(), arg: (m[2] ?? "").trim() } : null;
}

/** Runs a command; returns the reply text, or null when the name is not a command of ours. */
export async function runCommand(deps: CommandDeps, chat: number, name: string, arg: string): Promise<string | null> {
  const { sessions } = deps;
  const agent = sessions.agentOf(chat);
  switch (name) {
    case "start":
    case "help":
      return HELP;
    case "new": {
      sessions.forget(chat, agent);
      return `New session: your next message starts one with ${agent}.`;
    }
    case "stop": {
      const dropped = deps.queues.clear(chat);
      const session = deps.running.get(chat);
      const also = dropped ? ` and dropped ${dropped} queued message(s)` : "";
      const pending = deps.starting.get(chat);
      if (!session && pending) {
        pending.stop = true;
        return `Stopping the answer before it starts${also}.`;
      }
      if (!session)
        return dropped ? `Nothing was running; dropped ${dropped} queued message(s).` : "Nothing is running.";
      try {
        await deps.daemon.request({ cancel: { session } });
        return `Stopping the answer on session ${session}${also}.`;
      } catch (err) {
        return `Could not stop session ${session}: ${(err as Error).message}`;
      }
    }
    case "agent": {
      const dir = await readAgents(deps.daemon, deps.home);
      if (!arg) return `Agent: ${agent}. Available: ${dir.names.join(", ") || agent}. Switch with /agent NAME.`;
      if (dir.names.length > 0 && !dir.names.includes(arg))
        return `No agent "${arg}". Available: ${dir.names.join(", ")}.`;
      sessions.setAgent(chat, arg);
      const session = sessions.sessionOf(chat, arg);
      return `Agent: ${arg}${session ? ` (continuing session ${session})` : " (a new session starts with your next message)"}.`;
    }
    case "status": {
      const session = sessions.sessionOf(chat, agent);
      const running = deps.running.get(chat);
      const usage = await deps.daemon.request({ usage: {} });
      const rows = usage.usage?.rows.filter((r) => r.agent === agent) ?? [];
      const tokens = rows.reduce(
        (n, r) => n + Number(r.usage?.promptTokens ?? 0) + Number(r.usage?.completionTokens ?? 0),
        0,
      );
      const queued = deps.queues.queued(chat);
      return [
        `Agent: ${agent}`,
        `Session: ${session ?? "none yet (your next message starts one)"}`,
        `State: ${running ? `answering (session ${running})` : "idle"}${queued ? `, ${queued} queued` : ""}`,
        `Tokens today (${agent}): ${tokens}`,
      ].join("\n");
    }
    case "sessions": {
      const recent = sessions.recent(chat);
      if (recent.length === 0) return "No sessions yet.";
      const current = sessions.sessionOf(chat, agent);
      return [
        "Recent sessions:",
        ...recent.map(
          (r) =>
            `${r.session === current ? "▶" : "•"} ${r.session} ${r.agent} – ${new Date(r.at).toISOString().slice(0, 16).replace("T", " ")}`,
        ),
      ].join("\n");
    }
    default:
      return null;
  }
}
