/**
 * LiveSession.historyChars counts each message once (the pool asks after
 * every turn, and a long history made that a scan of every message): the
 * count must equal a count from scratch after pushes, after the history is
 * replaced (compaction), released (0) and read back.
 */
import { expect, test } from "bun:test";
import type { Message } from "../../src/provider/types.ts";
import { LiveSession } from "../../src/session/live-session.ts";
import { MemorySessionStore } from "../../src/store/memory.ts";

function scratch(list: readonly Message[]): number {
  let n = 0;
  for (const m of list) {
    n += m.content.length;
    if (m.role === "assistant") {
      for (const c of m.toolCalls ?? []) n += c.rawArguments.length;
      for (const t of m.thinking ?? []) n += t.type === "thinking" ? t.text.length : t.data.length;
    }
  }
  return n;
}

test("historyChars equals a count from scratch through pushes, replacement, release and restore", async () => {
  const session = new LiveSession(1, "crab", "t", [{ role: "user", content: "hello" }], 0, new MemorySessionStore());
  expect(session.historyChars()).toBe(5);
  session.history.push(
    {
      role: "assistant",
      content: "using a tool",
      toolCalls: [{ id: "c", name: "read", arguments: {}, rawArguments: '{"path":"x"}' }],
      thinking: [
        { type: "thinking", text: "hmm", signature: "s" },
        { type: "redacted_thinking", data: "opaque" },
      ],
    },
    { role: "tool", toolCallId: "c", name: "read", content: "file text", isError: false },
  );
  expect(session.historyChars()).toBe(scratch(session.history));
  session.history.push({ role: "user", content: "more" });
  expect(session.historyChars()).toBe(scratch(session.history));

  session.history = [{ role: "user", content: "a summary" }];
  expect(session.historyChars()).toBe(9);
  session.history.push({ role: "assistant", content: "ok" });
  expect(session.historyChars()).toBe(11);

  expect(session.releaseHistory()).toBe(true);
  expect(session.historyChars()).toBe(0);
  const back: Message[] = [{ role: "user", content: "read back" }];
  await session.restoreHistory(async () => back);
  expect(session.historyChars()).toBe(9);
});
