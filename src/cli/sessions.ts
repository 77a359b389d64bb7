/**
 * Session commands, each one request and a print: `crabtalk sessions`
 * (list, newest first, paged; `sessions search` ranks past messages),
 * `history ID`, `kill ID`, `rm ID` and `compact ID`. Tables are for people;
 * `--json` prints the daemon's reply as one JSON object for scripts.
 * Exit codes: 0 done, 1 the daemon refused or is not running (404 for an
 * unknown id included), 2 a malformed argument.
 */
import { defineCommand } from "citty";
import type { HistoryMessage, SessionInfo } from "../protocol/gen/crabtalk.ts";
import { visibleControls } from "./render/sanitize.ts";
import { CliFailure, EXIT_USAGE, connectionArgs, printJson, withClient } from "./shared.ts";

const jsonArg = {
  json: { type: "boolean", description: "Print one JSON object (the daemon's reply) instead of text" },
} as const;
const idArg = {
  id: {
    type: "positional",
    required: true,
    description: "Session id, as `crabtalk sessions` lists it",
    valueHint: "ID",
  },
} as const;

/** A session id or page number from the command line: a whole number, else a usage error (exit 2). */
export function wholeNumber(value: string | undefined, what: string, min: number): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isSafeInteger(n) || n < min) {
    throw new CliFailure(
      `${what} must be a whole number${min > 0 ? ` of at least ${min}` : ""}, got "${value ?? ""}"`,
      EXIT_USAGE,
    );
  }
  return n;
}

/** "12s ago", "5m ago", "3h ago", else the local date and time: short enough for a table column. */
export function ago(ms: number, now = Date.now()): string {
  if (!ms) return "-";
  const s = Math.max(0, Math.floor((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return stamp(ms);
}

/** Local "YYYY-MM-DD HH:MM" for a timestamp. */
export function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** One line, at most `max` characters, for table cells and snippets; control characters shown, not obeyed. */
export function oneLine(text: string, max: number): string {
  const flat = visibleControls(text.replace(/\s+/g, " ").trim());
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export function sessionTable(rows: readonly SessionInfo[], now = Date.now()): string {
  const header = ["ID", "AGENT", "TITLE", "MSGS", "TOKENS", "LAST ACTIVITY", "STATE"];
  const cells = rows.map((s) => [
    String(s.id),
    s.agent,
    oneLine(s.title || "(untitled)", 40),
    String(s.messageCount),
    String(s.totalTokens),
    ago(s.lastActiveMs, now),
    s.running ? "running" : s.live ? "live" : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join("  ");
  return `${[line(header), ...cells.map(line)].join("\n")}\n`;
}

export function renderHistory(session: number, agent: string, messages: readonly HistoryMessage[]): string {
  let out = `session ${session} (agent ${agent}), ${messages.length} message(s)\n`;
  for (const m of messages) {
    const when = m.timestampMs ? stamp(m.timestampMs) : "";
    if (m.role === "tool") {
      out += `\n[${when}] tool result for ${m.toolCallId}${m.isError ? " (error)" : ""}:\n${indent(m.content)}\n`;
      continue;
    }
    out += `\n[${when}] ${m.role}:\n`;
    if (m.thinking) out += `${indent(`(thinking) ${m.thinking}`)}\n`;
    if (m.content) out += `${indent(m.content)}\n`;
    for (const c of m.toolCalls) out += `  -> ${c.name}(${c.arguments}) [${c.id}]\n`;
  }
  return out;
}

function indent(text: string): string {
  return text.replace(/^/gm, "  ");
}

const searchCommand = defineCommand({
  meta: {
    name: "search",
    description:
      "Rank past user and assistant messages across every session by BM25 and print session, time and a snippet, best first. Tool arguments and results are never searched (they often hold secrets).",
  },
  args: {
    ...connectionArgs,
    ...jsonArg,
    query: { type: "positional", required: true, description: "Words to look for (quote several)", valueHint: "WORDS" },
    limit: { type: "string", description: "At most this many hits (default 20)", valueHint: "N" },
  },
  async run({ args }) {
    if (!args.query.trim()) throw new CliFailure("search needs words to look for", EXIT_USAGE);
    const limit = args.limit === undefined ? 0 : wholeNumber(args.limit, "--limit", 1);
    await withClient(args, async (client) => {
      const reply = await client.request({ searchSessions: { query: args.query, limit } });
      const hits = reply.searchResults!.hits;
      if (args.json) return printJson(reply.searchResults);
      if (hits.length === 0) {
        process.stdout.write(`no message matches "${args.query}"\n`);
        return;
      }
      for (const h of hits)
        process.stdout.write(`session ${h.session}  ${stamp(h.timestampMs)}  ${h.role}  ${oneLine(h.snippet, 160)}\n`);
    });
  },
});

export const sessionsCommand = defineCommand({
  meta: {
    name: "sessions",
    description:
      "List sessions on disk and in memory, newest activity first: id, agent, title, message count, tokens, last activity and whether it is live in memory or running a turn. `crabtalk sessions search WORDS` searches their messages.",
  },
  args: {
    ...connectionArgs,
    ...jsonArg,
    agent: { type: "string", description: "Only this agent's sessions", valueHint: "NAME" },
    offset: { type: "string", description: "Skip this many sessions (paging; default 0)", valueHint: "N" },
    limit: { type: "string", description: "At most this many sessions (default 50, at most 1000)", valueHint: "N" },
  },
  subCommands: { search: searchCommand },
  async run({ args }) {
    // citty runs the parent's run after a subcommand's; `sessions search` is done by then.
    if (args._[0] === "search") return;
    if (args._.length > 0)
      throw new CliFailure(
        `unexpected argument "${args._[0]}": did you mean \`crabtalk sessions search ${args._.join(" ")}\`?`,
        EXIT_USAGE,
      );
    const offset = args.offset === undefined ? 0 : wholeNumber(args.offset, "--offset", 0);
    const limit = args.limit === undefined ? 0 : wholeNumber(args.limit, "--limit", 1);
    await withClient(args, async (client) => {
      const reply = await client.request({ sessions: { agent: args.agent, offset, limit } });
      const list = reply.sessions!;
      if (args.json) return printJson(list);
      if (list.sessions.length === 0) {
        process.stdout.write(
          list.total > 0 ? `no sessions at offset ${offset} (${list.total} in total)\n` : "no sessions yet\n",
        );
        return;
      }
      process.stdout.write(sessionTable(list.sessions));
      const last = offset + list.sessions.length;
      if (list.total > list.sessions.length)
        process.stdout.write(
          `showing ${offset + 1}-${last} of ${list.total}${last < list.total ? `; next page: --offset ${last}` : ""}\n`,
        );
    });
  },
});

export const historyCommand = defineCommand({
  meta: {
    name: "history",
    description:
      "Print every message of a session as stored on disk (user, assistant with tool calls and thinking, tool results), oldest first, including messages a compaction has summarized away for the model.",
  },
  args: { ...connectionArgs, ...jsonArg, ...idArg },
  async run({ args }) {
    const id = wholeNumber(args.id, "session id", 1);
    await withClient(args, async (client) => {
      const h = (await client.request({ getHistory: { session: id } })).history!;
      if (args.json) return printJson(h);
      // A human view (--json is the exact one): escape sequences in stored text are shown, never obeyed.
      process.stdout.write(visibleControls(renderHistory(h.session, h.agent, h.messages)));
    });
  },
});

export const killCommand = defineCommand({
  meta: {
    name: "kill",
    description:
      "End a live session: cancel its running and queued turns and drop it from memory. Its history stays on disk and a later message resumes it.",
  },
  args: { ...connectionArgs, ...idArg },
  async run({ args }) {
    const id = wholeNumber(args.id, "session id", 1);
    await withClient(args, async (client) => {
      const reply = await client.request({ kill: { session: id } });
      process.stdout.write(`${reply.ack?.message ?? `session ${id} ended`}\n`);
    });
  },
});

export const rmCommand = defineCommand({
  meta: {
    name: "rm",
    description: "Delete a session: end it if live and remove its file. Its id is never handed out again.",
  },
  args: { ...connectionArgs, ...idArg },
  async run({ args }) {
    const id = wholeNumber(args.id, "session id", 1);
    await withClient(args, async (client) => {
      const reply = await client.request({ deleteSession: { session: id } });
      process.stdout.write(`${reply.ack?.message ?? `session ${id} deleted`}\n`);
    });
  },
});

export const compactCommand = defineCommand({
  meta: {
    name: "compact",
    description:
      "Compact a session now (after any running turn): the model summarizes the conversation and the summary replaces what it sees next; every older line stays on disk. Fails, leaving history unchanged, when summarizing fails.",
  },
  args: { ...connectionArgs, ...jsonArg, ...idArg },
  async run({ args }) {
    const id = wholeNumber(args.id, "session id", 1);
    await withClient(args, async (client) => {
      const reply = await client.request({ compact: { session: id } });
      const c = reply.stream?.compaction;
      if (!c) throw new CliFailure(`the daemon answered compact with ${reply.msg ?? "nothing"}, not a compaction`);
      if (args.json) return printJson({ session: id, tokensBefore: c.tokensBefore, tokensAfter: c.tokensAfter });
      process.stdout.write(`compacted session ${id}: about ${c.tokensBefore} tokens -> ${c.tokensAfter}\n`);
    });
  },
});
