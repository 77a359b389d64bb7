/**
 * Long sessions in the store's on-disk format, written through the store's
 * own writer (JsonlSessionStore.append) so the files have the shape the
 * runtime leaves: per turn a start event, the user message, optionally an
 * assistant tool call with its result and tool events, a few text deltas,
 * the assistant answer with usage, model-end and end events (the store adds
 * its totals snapshots), and a compaction every `compactEvery` messages as
 * the runtime appends it. Used by the resume and search tests and benches;
 * the benches cache what they write under .tmp/.
 */
import type { Message } from "../../src/provider/types.ts";
import type { JsonlSessionStore } from "../../src/store/jsonl.ts";
import type { NewRecord, SessionStore } from "../../src/store/types.ts";

export interface GenOptions {
  /** Messages to write (the count is reached at a turn boundary, so it may be exceeded by up to three). */
  messages: number;
  agent?: string;
  /** A compaction after the turn that reaches each multiple of this many messages since the last one; 0 = none. */
  compactEvery?: number;
  /** Every n-th turn calls a tool (assistant call + tool result); 0 = never. */
  toolEvery?: number;
  /** text_delta trace events per answer. */
  deltas?: number;
  /** Text of message `i` of the session (user questions on even turns' first message). */
  text?: (i: number, role: "user" | "assistant") => string;
  /** Leave the last turn open (start event and user message, no end): a crash mid-turn. */
  openLastTurn?: boolean;
  /** Turns per append call (one write each); larger is faster to generate. */
  batchTurns?: number;
}

const USAGE = { promptTokens: 10, completionTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
const FILLER = "the quick brown crab walks sideways across the warm sand while the tide goes out.";

export const defaultText = (i: number, role: "user" | "assistant"): string =>
  role === "user" ? `question ${i}: ${FILLER} ${FILLER}` : `answer ${i}: ${FILLER} ${FILLER}`;

/** Writes a session of `opts.messages` messages into `store` and returns its id. */
export async function writeLongSession(store: SessionStore | JsonlSessionStore, opts: GenOptions): Promise<number> {
  const text = opts.text ?? defaultText;
  const s = await store.create({ agent: opts.agent ?? "crab", createdBy: "gen" });
  let seq = 0;
  let count = 0;
  let sinceCompaction = 0;
  let turn = 0;
  let batch: NewRecord[] = [];
  const ts = Date.UTC(2026, 0, 1);
  const msg = (message: Message): NewRecord => {
    count++;
    sinceCompaction++;
    return { kind: "message", message, ts: ts + count };
  };
  const event = (type: string, data: Record<string, unknown> = {}): NewRecord => ({
    kind: "event",
    event: { seq: ++seq, type, turn: turn, data },
    ts: ts + count,
  });
  while (count < opts.messages) {
    turn++;
    const last = count + 2 >= opts.messages;
    batch.push(event("start", { agent: opts.agent ?? "crab", session: s.id, sender: "gen" }));
    batch.push(msg({ role: "user", content: text(count, "user"), timestamp: ts + count }));
    if (last && opts.openLastTurn) break;
    if (opts.toolEvery && turn % opts.toolEvery === 0) {
      const id = `call_${turn}`;
      const args = { path: `/tmp/file-${turn}.txt` };
      batch.push(
        msg({
          role: "assistant",
          content: "",
          toolCalls: [{ id, name: "read", rawArguments: JSON.stringify(args), arguments: args }],
          model: "fake-model",
          stopReason: "tool_calls",
          usage: USAGE,
          timestamp: ts + count,
        }),
      );
      batch.push(event("toolStart", { id, name: "read" }));
      batch.push(event("toolEnd", { id, output: `contents of file ${turn}` }));
      batch.push(
        msg({
          role: "tool",
          toolCallId: id,
          name: "read",
          content: `contents of file ${turn}`,
          isError: false,
          timestamp: ts + count,
        }),
      );
    }
    for (let d = 0; d < (opts.deltas ?? 0); d++) batch.push(event("textDelta", { text: `tok${d} ` }));
    batch.push(
      msg({
        role: "assistant",
        content: text(count, "assistant"),
        model: "fake-model",
        stopReason: "stop",
        usage: USAGE,
        timestamp: ts + count,
      }),
    );
    batch.push(event("modelEnd", { model: "fake-model", stopReason: "stop" }));
    batch.push(event("end", { agent: opts.agent ?? "crab", model: "fake-model", stopReason: "stop" }));
    if (opts.compactEvery && sinceCompaction >= opts.compactEvery && count < opts.messages) {
      batch.push({
        kind: "compaction",
        summary: `summary of the first ${count} messages`,
        tokensBefore: count * 30,
        tokensAfter: 200,
        ts: ts + count,
      });
      sinceCompaction = 0;
    }
    if (turn % (opts.batchTurns ?? 50) === 0) {
      await store.append(s.id, batch);
      batch = [];
    }
  }
  if (batch.length > 0) await store.append(s.id, batch);
  return s.id;
}
