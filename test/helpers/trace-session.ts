/**
 * A session with a long trace, written in the JSONL store's layout before a
 * daemon starts (as the runtime writes it: meta, then per turn the start
 * event, the user message, a tool call between two model calls with their
 * events and messages, the end, a meta_update), for the dashboard's browser
 * test and bench: 10 events per turn, so `turns: 1000` is a 10,000-event
 * session. Timestamps step a few ms per event from `startMs`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TraceShape {
  id: number;
  agent: string;
  turns: number;
  startMs?: number;
}

/** What the written session holds, for assertions. */
export interface WrittenTrace {
  events: number;
  modelCalls: number;
  toolCalls: number;
  /** Call id of the last tool call (the timeline's last tool row). */
  lastCallId: string;
  /** Text of the last assistant answer. */
  lastAnswer: string;
}

export const EVENTS_PER_TURN = 10;

export function writeTraceSession(home: string, shape: TraceShape): WrittenTrace {
  const dir = join(home, "sessions");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let ts = shape.startMs ?? Date.now() - 86_400_000;
  const usage = (p: number) => ({
    promptTokens: p,
    completionTokens: 7,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
  });
  const lines: string[] = [
    JSON.stringify({ ts, kind: "meta", v: 1, id: shape.id, agent: shape.agent, createdBy: "cli", createdAt: ts }),
  ];
  let seq = 0;
  let tokens = 0;
  let messages = 0;
  let lastCallId = "";
  let lastAnswer = "";
  const event = (type: string, turn: number, data: object) => {
    ts += 3;
    lines.push(JSON.stringify({ ts, kind: "event", event: { seq: ++seq, type, turn, data } }));
  };
  const message = (m: object) => {
    messages++;
    lines.push(JSON.stringify({ ts, kind: "message", message: { ...m, timestamp: ts } }));
  };
  for (let t = 0; t < shape.turns; t++) {
    const turn = seq + 1;
    const callId = `call_${t}`;
    const command = `echo step ${t}`;
    event("start", turn, { agent: shape.agent, session: shape.id, sender: "cli" });
    message({ role: "user", content: `run step ${t}: **check** the \`build\`` });
    event("modelEnd", turn, { model: "fake-model", usage: usage(100 + t), stopReason: "tool_calls" });
    message({
      role: "assistant",
      content: "",
      model: "fake-model",
      stopReason: "tool_calls",
      usage: usage(100 + t),
      toolCalls: [{ id: callId, name: "bash", rawArguments: JSON.stringify({ command }), arguments: { command } }],
    });
    event("toolStart", turn, { calls: [{ id: callId, name: "bash", arguments: JSON.stringify({ command }) }] });
    event("toolResult", turn, {
      callId,
      output: `step ${t}\n[exit code 0]`,
      durationMs: 2,
      isError: false,
      name: "bash",
    });
    message({ role: "tool", toolCallId: callId, name: "bash", content: `step ${t}\n[exit code 0]`, isError: false });
    event("toolsComplete", turn, {});
    const answer = `Step ${t} is done: the build is *green*.`;
    for (const piece of [answer.slice(0, 10), answer.slice(10, 20), answer.slice(20)])
      event("chunk", turn, { content: piece });
    event("modelEnd", turn, { model: "fake-model", usage: usage(200 + t), stopReason: "stop" });
    message({ role: "assistant", content: answer, model: "fake-model", stopReason: "stop", usage: usage(200 + t) });
    event("end", turn, {
      agent: shape.agent,
      model: "fake-model",
      usage: usage(300 + 2 * t),
      stopReason: "stop",
      error: "",
      errorCode: 0,
    });
    tokens += 300 + 2 * t + 14;
    lines.push(
      JSON.stringify({
        ts,
        kind: "meta_update",
        ...(t === 0 ? { title: `run step 0` } : {}),
        messageCount: messages,
        totalTokens: tokens,
        lastActive: ts,
        lastSeq: seq,
      }),
    );
    lastCallId = callId;
    lastAnswer = answer;
  }
  writeFileSync(join(dir, `${shape.id}.jsonl`), `${lines.join("\n")}\n`, { mode: 0o600 });
  return { events: seq, modelCalls: 2 * shape.turns, toolCalls: shape.turns, lastCallId, lastAnswer };
}
