/**
 * `crabtalk replay ID [--json]`: a session's timeline from its trace, with
 * the look of attach: each turn's message, the answer, tool calls with
 * arguments, duration and outcome, tokens per model call, and totals.
 * `--json` prints the raw records, one per line, exactly as stored.
 *
 * It reads $CRABTALK_HOME/sessions/ID.jsonl directly with the store's line
 * reader and record parser, not through the daemon: a trace is most often
 * read when something went wrong, and then the daemon may well be down;
 * the file is append-only with whole-line writes, so reading it while the
 * daemon appends is safe (a torn last line is skipped), and no protocol
 * request is needed for it. This is the one client command that imports
 * from `store`, read-only.
 */
import { defineCommand } from "citty";
import { exitQuietlyOnBrokenPipe } from "./render/pipe.ts";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathsFor, resolveHome } from "../config/paths.ts";
import { readLines } from "../store/line-reader.ts";
import { parseRecord } from "../store/fold.ts";
import type { StoredRecord } from "../store/types.ts";
import type { StreamEvent, Usage } from "../protocol/gen/crabtalk.ts";
import { CliFailure, EXIT_USAGE } from "./shared.ts";
import { colorEnabled, columnsOf, makeStyle, oneLine, truncate, type Style } from "./render/style.ts";
import { TurnRenderer } from "./render/turn.ts";
import { visibleControls } from "./render/sanitize.ts";
import { addUsage, formatCount, formatUsage, ZERO_USAGE } from "./render/format.ts";
import { stamp } from "./sessions.ts";
import { taskSessions } from "../protocol/task-details.ts";

interface Totals {
  turns: number;
  tools: number;
  failedTools: number;
  perModel: Map<string, { calls: number; usage: Usage }>;
}

/** A trace record in the wire shape attach renders. */
function wireEvent(r: Extract<StoredRecord, { kind: "event" }>, session: number): StreamEvent {
  const type = r.event.type as NonNullable<StreamEvent["event"]>;
  return { event: type, [type]: r.event.data ?? {}, seq: r.event.seq, session, timestampMs: r.ts } as StreamEvent;
}

function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content.map((p: { text?: unknown }) => (typeof p?.text === "string" ? p.text : "")).join("");
  return JSON.stringify(content);
}

/** Delegated tasks nested under a delegating call are drawn this deep at most. */
const MAX_TREE_DEPTH = 4;

/** A writer that starts every line with `prefix` (a nested task's timeline under its delegating call). */
function indented(write: (s: string) => void, prefix: string): (s: string) => void {
  let atStart = true;
  return (s) => {
    let out = "";
    for (const ch of s) {
      if (atStart && ch !== "\n") out += prefix;
      atStart = ch === "\n";
      out += ch;
    }
    write(out);
  };
}

export async function renderTrace(
  file: string,
  session: number,
  style: Style,
  write: (s: string) => void,
  columns: () => number,
  depth = 0,
): Promise<Totals> {
  const renderer = new TurnRenderer({
    style,
    sink: { write, isTTY: false, columns },
    animate: false,
    perCallUsage: true,
  });
  const totals: Totals = { turns: 0, tools: 0, failedTools: 0, perModel: new Map() };
  const width = () => columns() - 1;
  for await (const line of readLines(file)) {
    const r = parseRecord(line.text);
    if (!r) continue;
    switch (r.kind) {
      case "meta":
        write(
          style.paint("bold", `session ${r.id}`) +
            style.paint(
              "dim",
              ` · agent ${oneLine(r.agent)} · created by ${oneLine(r.createdBy)} · ${stamp(r.createdAt)}`,
            ) +
            "\n",
        );
        if (r.title) write(`${style.paint("dim", truncate(`“${oneLine(r.title)}”`, width()))}\n`);
        break;
      case "message":
        if (r.message.role === "user")
          renderer.notice(
            "\n" +
              style.paint("bold", truncate(`› ${oneLine(messageText(r.message.content))}`, width())) +
              style.paint("dim", `  ${stamp(r.ts)}`),
          );
        break;
      case "compaction":
        renderer.notice(
          style.paint(
            "dim",
            `⟳ history compacted: ${formatCount(r.tokensBefore)} → ${formatCount(r.tokensAfter)} tokens`,
          ),
        );
        break;
      case "interrupted":
        renderer.abandon("interrupted");
        renderer.notice(style.paint("yellow", `✗ turn interrupted: ${oneLine(r.reason)}`));
        break;
      case "event": {
        const ev = wireEvent(r, session);
        if (ev.event === "start") totals.turns++;
        if (ev.event === "toolResult") {
          totals.tools++;
          if (ev.toolResult!.isError) totals.failedTools++;
        }
        if (ev.event === "modelEnd") {
          const m = ev.modelEnd!;
          const row = totals.perModel.get(m.model) ?? { calls: 0, usage: ZERO_USAGE };
          totals.perModel.set(m.model, { calls: row.calls + 1, usage: addUsage(row.usage, m.usage) });
        }
        // The compaction marker record above already drew this one; the event is its copy for live clients.
        if (ev.event !== "compaction") renderer.event(ev);
        // A delegate call: each task's own timeline, nested under it (the tree of the turn).
        for (const task of ev.event === "toolResult" && depth < MAX_TREE_DEPTH
          ? taskSessions(ev.toolResult!.details)
          : []) {
          const child = join(dirname(file), `${task.session}.jsonl`);
          if (!existsSync(child)) continue;
          const nested = indented(write, style.paint("dim", "  ┆ "));
          await renderTrace(child, task.session, style, nested, () => Math.max(20, columns() - 4), depth + 1);
        }
        break;
      }
      default:
        break;
    }
  }
  renderer.dispose();
  return totals;
}

export const replayCommand = defineCommand({
  meta: {
    name: "replay",
    description:
      "Show a session's timeline from its trace, with the look of attach (turns, tool calls with durations, tokens per model call, totals). Works while the daemon is down.",
  },
  args: {
    id: {
      type: "positional",
      required: true,
      description: "Session id, as `crabtalk sessions` lists it",
      valueHint: "ID",
    },
    json: { type: "boolean", description: "Print the raw trace records, one JSON object per line" },
  },
  async run({ args }) {
    const id = Number(args.id);
    if (!Number.isSafeInteger(id) || id <= 0)
      throw new CliFailure(`replay expects a session id (a whole number), got "${args.id}"`, EXIT_USAGE);
    const file = join(pathsFor(resolveHome()).sessions, `${id}.jsonl`);
    if (!existsSync(file)) throw new CliFailure(`session ${id} not found: no trace at ${file}`);
    exitQuietlyOnBrokenPipe();
    const out = process.stdout;
    if (args.json) {
      for await (const line of readLines(file)) if (parseRecord(line.text)) out.write(`${line.text}\n`);
      return;
    }
    const style = makeStyle(colorEnabled(Boolean(out.isTTY)));
    const columns = () => columnsOf(out);
    const totals = await renderTrace(file, id, style, (s) => void out.write(s), columns);
    let all = ZERO_USAGE;
    let calls = 0;
    for (const row of totals.perModel.values()) {
      all = addUsage(all, row.usage);
      calls += row.calls;
    }
    out.write(
      "\n" +
        style.paint("bold", "totals") +
        ` ${totals.turns} turn(s) · ${calls} model call(s) · ${totals.tools} tool call(s)${totals.failedTools ? `, ${totals.failedTools} failed` : ""} · ${formatUsage(all)}\n`,
    );
    for (const [model, row] of totals.perModel)
      out.write(
        `${style.paint("dim", truncate(`  ${visibleControls(model)}: ${row.calls} call(s) · ${formatUsage(row.usage)}`, columns() - 1))}\n`,
      );
  },
});
