/**
 * The slash commands of attach: each is a request to the daemon (or a
 * local switch) and a short print, so the REPL never leaves the terminal
 * for housekeeping.
 */
import type { AttachRepl } from "./repl.ts";
import type { Style } from "../render/style.ts";
import { oneLine, truncate } from "../render/style.ts";
import { formatUsage } from "../render/format.ts";
import { recap } from "./recap.ts";

export const HELP: [string, string][] = [
  ["/help", "this list"],
  ["/new", "start a new session with the next message"],
  ["/sessions", "list this agent's sessions"],
  ["/resume ID", "continue session ID (shows a turn in flight)"],
  ["/compact", "summarize this session's history to free context"],
  ["/agent NAME", "talk to another agent (starts a new session)"],
  ["/usage", "today's tokens per agent and model"],
  ["/thinking", "show or hide the model's thinking"],
  ["/exit", "leave (also Ctrl-D); Ctrl-C cancels a running turn"],
];

export type SlashResult = "exit" | "continue";

export async function runSlash(repl: AttachRepl, line: string, style: Style, width: number): Promise<SlashResult> {
  const [name = "", ...rest] = line.trim().slice(1).split(/\s+/);
  const arg = rest.join(" ");
  const say = (text: string) => repl.say(text);
  switch (name.toLowerCase()) {
    case "exit":
    case "quit":
      return "exit";
    case "help":
    case "?":
      for (const [cmd, what] of HELP) say(`  ${style.paint("cyan", cmd.padEnd(12))} ${what}`);
      return "continue";
    case "new":
      repl.stopWatching();
      repl.session = null;
      repl.lastSeq = 0;
      say(style.paint("dim", `new session: it starts with your next message to ${repl.agent}`));
      return "continue";
    case "agent": {
      if (!arg) {
        say(`agent: ${repl.agent}`);
        return "continue";
      }
      repl.stopWatching();
      repl.agent = arg;
      repl.session = null;
      repl.lastSeq = 0;
      say(style.paint("dim", `talking to ${arg}: a new session starts with your next message`));
      return "continue";
    }
    case "sessions": {
      const reply = await repl.request({ sessions: { agent: repl.agent, offset: 0, limit: 20 } });
      const list = reply?.sessions;
      if (!list) return "continue";
      if (list.sessions.length === 0) say(style.paint("dim", `no sessions of ${repl.agent} yet`));
      for (const s of list.sessions) {
        const mark = s.id === repl.session ? style.paint("green", "●") : s.running ? style.paint("yellow", "▶") : " ";
        const head = `${mark} ${String(s.id).padStart(4)}  ${String(s.messageCount).padStart(4)} msgs  `;
        say(head + truncate(oneLine(s.title || "(untitled)"), width - 22));
      }
      if (list.total > list.sessions.length)
        say(style.paint("dim", `  … ${list.total - list.sessions.length} more (crabtalk sessions)`));
      return "continue";
    }
    case "resume": {
      const id = Number(arg);
      if (!Number.isSafeInteger(id) || id <= 0) {
        say(style.paint("red", "usage: /resume ID (a number from /sessions)"));
        return "continue";
      }
      const history = await repl.request({ getHistory: { session: id } });
      if (!history?.history) return "continue";
      repl.stopWatching();
      repl.session = id;
      repl.agent = history.history.agent;
      repl.lastSeq = 0;
      for (const l of recap(history.history.messages, style, width)) say(l);
      say(style.paint("dim", `resumed session ${id} (agent ${repl.agent})`));
      await repl.watch(id);
      if (repl.turn) await repl.turn.done;
      return "continue";
    }
    case "compact": {
      if (repl.session === null) {
        say(style.paint("dim", "nothing to compact yet: this session has no messages"));
        return "continue";
      }
      say(style.paint("dim", "compacting…"));
      repl.sawCompaction = false;
      const reply = await repl.request({ compact: { session: repl.session } });
      const c = reply?.stream?.compaction;
      // The attach stream usually shows the compaction already; say it once.
      if (c && !repl.sawCompaction)
        say(style.paint("dim", `⟳ history compacted: ${c.tokensBefore} → ${c.tokensAfter} tokens`));
      return "continue";
    }
    case "usage": {
      const reply = await repl.request({ usage: {} });
      const u = reply?.usage;
      if (!u) return "continue";
      if (u.rows.length === 0) say(style.paint("dim", `no tokens used on ${u.day}`));
      for (const r of u.rows)
        say(truncate(`  ${r.agent} · ${r.model} · ${r.turns} call(s) · ${formatUsage(r.usage)}`, width));
      const limit = u.dailyLimit ? ` of ${u.dailyLimit.toLocaleString("en-US")}` : "";
      say(style.paint("dim", `  ${u.day}: ${u.usedToday.toLocaleString("en-US")}${limit} tokens today`));
      return "continue";
    }
    case "thinking":
      repl.renderer.showThinking = !repl.renderer.showThinking;
      say(style.paint("dim", `thinking is now ${repl.renderer.showThinking ? "shown" : "hidden"}`));
      return "continue";
    default:
      say(style.paint("red", `unknown command /${name}; /help lists them`));
      return "continue";
  }
}
