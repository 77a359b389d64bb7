/**
 * The bridge's pure translations (src/acp/mapping.ts): stop reasons, tool
 * kinds, a turn's events and a session's history as ACP updates, prompt
 * blocks as text, and the cwd rule.
 */
import { describe, expect, test } from "bun:test";
import {
  cwdRefusal,
  promptText,
  stopReasonOf,
  toolKindOf,
  updatesOfEvent,
  updatesOfHistory,
} from "../../src/acp/mapping.ts";
import type { StreamEvent } from "../../src/protocol/gen/crabtalk.ts";

const ev = (e: Partial<StreamEvent>): StreamEvent => ({ seq: 1, session: 7, timestampMs: 0, ...e });

describe("acp mapping", () => {
  test("stop reasons", () => {
    expect(stopReasonOf("stop")).toBe("end_turn");
    expect(stopReasonOf("length")).toBe("max_tokens");
    expect(stopReasonOf("token_budget")).toBe("max_tokens");
    expect(stopReasonOf("refusal")).toBe("refusal");
    expect(stopReasonOf("aborted")).toBe("cancelled");
    expect(stopReasonOf("interrupted")).toBe("cancelled");
    expect(stopReasonOf("max_iterations")).toBe("max_turn_requests");
  });

  test("tool kinds by name", () => {
    expect(toolKindOf("bash")).toBe("execute");
    expect(toolKindOf("read")).toBe("read");
    expect(toolKindOf("edit")).toBe("edit");
    expect(toolKindOf("write")).toBe("edit");
    expect(toolKindOf("web_search")).toBe("search");
    expect(toolKindOf("web_fetch")).toBe("fetch");
    expect(toolKindOf("delegate")).toBe("other");
  });

  test("turn events: chunks, thoughts, calls, results, progress; bookkeeping becomes nothing", () => {
    expect(updatesOfEvent(ev({ event: "chunk", chunk: { content: "hi" } }))).toEqual([
      { sessionUpdate: "agent_message_chunk", content: { type: "text", text: "hi" } },
    ]);
    expect(updatesOfEvent(ev({ event: "thinking", thinking: { content: "hm" } }))[0]!.sessionUpdate).toBe(
      "agent_thought_chunk",
    );
    const [call] = updatesOfEvent(
      ev({ event: "toolStart", toolStart: { calls: [{ id: "c1", name: "bash", arguments: '{"command":"ls -la"}' }] } }),
    );
    expect(call).toMatchObject({
      sessionUpdate: "tool_call",
      toolCallId: "c1",
      title: "bash: ls -la",
      kind: "execute",
      status: "in_progress",
      rawInput: { command: "ls -la" },
    });
    const [failed] = updatesOfEvent(
      ev({
        event: "toolResult",
        toolResult: { callId: "c1", output: "boom", isError: true, durationMs: 1, name: "bash", details: "" },
      }),
    );
    expect(failed).toMatchObject({ sessionUpdate: "tool_call_update", toolCallId: "c1", status: "failed" });
    expect(updatesOfEvent(ev({ event: "modelEnd" }))).toEqual([]);
    expect(updatesOfEvent(ev({ event: "start" }))).toEqual([]);
  });

  test("history replays as the updates a live turn sends", () => {
    const ups = updatesOfHistory([
      { role: "user", content: "q", toolCalls: [], toolCallId: "", thinking: "", timestampMs: 0, isError: false },
      {
        role: "assistant",
        content: "",
        toolCalls: [{ id: "c1", name: "read", arguments: '{"path":"a.txt"}' }],
        toolCallId: "",
        thinking: "think",
        timestampMs: 0,
        isError: false,
      },
      { role: "tool", content: "A", toolCalls: [], toolCallId: "c1", thinking: "", timestampMs: 0, isError: false },
      { role: "assistant", content: "a", toolCalls: [], toolCallId: "", thinking: "", timestampMs: 0, isError: false },
    ]);
    expect(ups.map((u) => u.sessionUpdate)).toEqual([
      "user_message_chunk",
      "agent_thought_chunk",
      "tool_call",
      "tool_call_update",
      "agent_message_chunk",
    ]);
    expect(ups[2]).toMatchObject({ kind: "read", title: "read: a.txt" });
  });

  test("prompt blocks: text, links and text resources; binary refused", () => {
    expect(
      promptText([
        { type: "text", text: "look" },
        { type: "resource_link", name: "a.ts", uri: "file:///w/a.ts" },
        { type: "resource", resource: { uri: "file:///w/b.ts", text: "let b = 1;" } },
      ]),
    ).toBe("look\n\n[a.ts](file:///w/a.ts)\n\nContent of file:///w/b.ts:\n```\nlet b = 1;\n```");
    expect(() => promptText([{ type: "image", data: "AAAA", mimeType: "image/png" }])).toThrow(
      "got a block of type image",
    );
  });

  test("cwd: the agent's cwd or below it; anything else is refused with the fix", () => {
    expect(cwdRefusal("/w", "crab", "/w")).toBeNull();
    expect(cwdRefusal("/w/sub/dir", "crab", "/w")).toBeNull();
    expect(cwdRefusal("/wx", "crab", "/w")).toContain('set cwd = "/wx" in [agents.crab]');
    expect(cwdRefusal("/", "crab", "/w")).toContain("works in /w");
    expect(cwdRefusal("rel", "crab", "/w")).toContain("absolute");
  });
});
