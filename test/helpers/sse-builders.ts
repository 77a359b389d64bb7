/**
 * Builders for scripted model turns, as SSE text in the exact framing each
 * API uses (field order and event names follow the recordings in
 * test/fixtures/providers). A scripted agent test describes a turn
 * (text split into N deltas, tool calls, usage) and serves the result with
 * the fake provider; these are synthetic, never a stand-in for recordings.
 */

export interface ScriptedToolCall {
  id: string;
  name: string;
  /** Arguments object; sent as JSON text split into `argChunks` fragments. */
  args: Record<string, unknown>;
}

export interface ScriptedTurn {
  model?: string;
  text?: string;
  /** Number of deltas the text is split into (default 3). */
  textDeltas?: number;
  /** Reasoning text (OpenAI: reasoning_content; Anthropic: a signed thinking block). */
  thinking?: string;
  thinkingSignature?: string;
  toolCalls?: ScriptedToolCall[];
  argChunks?: number;
  usage?: { prompt?: number; completion?: number; cacheRead?: number; cacheWrite?: number; reasoning?: number };
  /** Override the wire finish reason (OpenAI finish_reason / Anthropic stop_reason). */
  finishReason?: string;
}

/** Splits text into `n` pieces (fewer when the text is shorter), concatenating back to it. */
export function split(text: string, n: number): string[] {
  if (text.length === 0) return [];
  const count = Math.max(1, Math.min(n, text.length));
  const size = Math.ceil(text.length / count);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const data = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`;
const event = (type: string, obj: unknown): string => `event: ${type}\ndata: ${JSON.stringify(obj)}\n\n`;

/** An OpenAI Chat Completions stream (with include_usage), ending in [DONE]. */
export function openaiSse(turn: ScriptedTurn): string {
  const model = turn.model ?? "gpt-4o-mini";
  const base = { id: "chatcmpl-scripted", object: "chat.completion.chunk", created: 1_700_000_000, model };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    data({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  let out = chunk({ role: "assistant", content: "", refusal: null });
  for (const piece of split(turn.thinking ?? "", 3)) out += chunk({ content: null, reasoning_content: piece });
  for (const piece of split(turn.text ?? "", turn.textDeltas ?? 3)) out += chunk({ content: piece });
  (turn.toolCalls ?? []).forEach((call, index) => {
    out += chunk({
      tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }],
    });
    for (const piece of split(JSON.stringify(call.args), turn.argChunks ?? 3)) {
      out += chunk({ tool_calls: [{ index, function: { arguments: piece } }] });
    }
  });
  const finish = turn.finishReason ?? (turn.toolCalls?.length ? "tool_calls" : "stop");
  out += chunk({}, finish);
  const u = turn.usage ?? {};
  const prompt = u.prompt ?? 10;
  const completion = u.completion ?? 5;
  out += data({
    ...base,
    choices: [],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: u.cacheRead ?? 0 },
      completion_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
    },
  });
  return `${out}data: [DONE]\n\n`;
}

/** An Anthropic Messages stream: message_start ... message_stop. */
export function anthropicSse(turn: ScriptedTurn): string {
  const model = turn.model ?? "claude-sonnet-4-5";
  const u = turn.usage ?? {};
  const usage = {
    input_tokens: u.prompt ?? 10,
    cache_creation_input_tokens: u.cacheWrite ?? 0,
    cache_read_input_tokens: u.cacheRead ?? 0,
    output_tokens: 1,
  };
  let out = event("message_start", {
    type: "message_start",
    message: {
      id: "msg_scripted",
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    },
  });
  let index = 0;
  if (turn.thinking !== undefined) {
    out += event("content_block_start", {
      type: "content_block_start",
      index,
      content_block: { type: "thinking", thinking: "", signature: "" },
    });
    for (const piece of split(turn.thinking, 3)) {
      out += event("content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "thinking_delta", thinking: piece },
      });
    }
    const signature = turn.thinkingSignature ?? "c2lnbmF0dXJl";
    out += event("content_block_delta", {
      type: "content_block_delta",
      index,
      delta: { type: "signature_delta", signature },
    });
    out += event("content_block_stop", { type: "content_block_stop", index });
    index++;
  }
  if (turn.text !== undefined) {
    out += event("content_block_start", {
      type: "content_block_start",
      index,
      content_block: { type: "text", text: "" },
    });
    out += event("ping", { type: "ping" });
    for (const piece of split(turn.text, turn.textDeltas ?? 3)) {
      out += event("content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "text_delta", text: piece },
      });
    }
    out += event("content_block_stop", { type: "content_block_stop", index });
    index++;
  }
  for (const call of turn.toolCalls ?? []) {
    out += event("content_block_start", {
      type: "content_block_start",
      index,
      content_block: { type: "tool_use", id: call.id, name: call.name, input: {} },
    });
    for (const piece of ["", ...split(JSON.stringify(call.args), turn.argChunks ?? 3)]) {
      out += event("content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "input_json_delta", partial_json: piece },
      });
    }
    out += event("content_block_stop", { type: "content_block_stop", index });
    index++;
  }
  const stop = turn.finishReason ?? (turn.toolCalls?.length ? "tool_use" : "end_turn");
  out += event("message_delta", {
    type: "message_delta",
    delta: { stop_reason: stop, stop_sequence: null },
    usage: { ...usage, output_tokens: u.completion ?? 5 },
  });
  return out + event("message_stop", { type: "message_stop" });
}
