/**
 * Compaction: when a conversation nears the model's context window (or a
 * client asks), the model summarizes it and the summary replaces the
 * history the model sees. The file keeps every older line; only a marker
 * with the summary is appended.
 */
import type { Message, StreamFn, Usage } from "../provider/types.ts";
import { emptyUsage } from "../provider/types.ts";

/** Tool output kept per result in the transcript sent for summarizing. */
const TOOL_OUTPUT_KEEP = 2000;

const KNOWN_WINDOWS: [RegExp, number][] = [
  [/^gpt-4\.1/, 1_047_576],
  [/^gpt-5/, 400_000],
  [/^gpt-4o|^gpt-4-turbo|^o[134]/, 128_000],
  [/^gpt-4/, 8_192],
  [/^gpt-3\.5/, 16_385],
  [/^claude/, 200_000],
  [/^deepseek/, 128_000],
  [/^gemini/, 1_000_000],
  [/^(llama|meta-llama).*3\.[1-3]|^llama-3/, 128_000],
  [/^qwen/, 32_768],
  [/^mistral|^mixtral/, 32_000],
];

/** The model's context window: config override, else a known family default, else 32k (a safe floor for local models). */
export function contextWindowFor(model: string, overrides: Readonly<Record<string, number>> = {}): number {
  const exact = overrides[model];
  if (exact) return exact;
  const name = model.toLowerCase().split("/").pop()!;
  for (const [pattern, window] of KNOWN_WINDOWS) if (pattern.test(name)) return window;
  return 32_768;
}

/** Rough token estimate (4 characters a token) for what no provider measured. */
export function estimateTokens(messages: readonly Message[]): number {
  let chars = 0;
  for (const m of messages) {
    chars += m.content.length;
    if (m.role === "assistant") for (const c of m.toolCalls ?? []) chars += c.rawArguments.length + c.name.length;
  }
  return Math.ceil(chars / 4);
}

export const SUMMARY_SYSTEM_PROMPT = `You compact a conversation between a user and an AI agent so the agent can continue it without the full history.
Write a summary that keeps, in this order:
1. Identity: who the agent is and who the user is, as established in the conversation.
2. The user's goals and stated preferences.
3. Decisions made and why.
4. Open tasks and next steps, exactly as agreed.
5. Important facts: names, paths, numbers, commands, errors, results.
6. Tool results that are still relevant (quote the essential lines only).
Be concise but lose nothing the agent needs. Write it as notes addressed to the agent. Output only the summary.`;

export function renderTranscript(messages: readonly Message[]): string {
  const lines: string[] = [];
  for (const m of messages) {
    if (m.role === "user") lines.push(`USER: ${m.content}`);
    else if (m.role === "assistant") {
      if (m.content) lines.push(`ASSISTANT: ${m.content}`);
      for (const c of m.toolCalls ?? [])
        lines.push(`ASSISTANT CALLS ${c.name}(${c.rawArguments.slice(0, TOOL_OUTPUT_KEEP)})`);
    } else {
      const out =
        m.content.length > TOOL_OUTPUT_KEEP
          ? `${m.content.slice(0, TOOL_OUTPUT_KEEP)}\n[... ${m.content.length - TOOL_OUTPUT_KEEP} more characters cut]`
          : m.content;
      lines.push(`TOOL RESULT (${m.name}${m.isError ? ", error" : ""}): ${out}`);
    }
  }
  return lines.join("\n\n");
}

export type SummaryResult = { ok: true; summary: string; usage: Usage } | { ok: false; message: string };

/**
 * Asks the model for a summary; `promptAdditions` (from compaction hooks)
 * follow the instructions. Never throws: a failure is `ok: false` with the reason.
 */
export async function summarize(
  stream: StreamFn,
  model: string,
  history: readonly Message[],
  signal?: AbortSignal,
  promptAdditions: readonly string[] = [],
): Promise<SummaryResult> {
  const request = {
    model,
    system: [SUMMARY_SYSTEM_PROMPT, ...promptAdditions].join("\n\n"),
    messages: [{ role: "user" as const, content: `Summarize this conversation:\n\n${renderTranscript(history)}` }],
  };
  let text = "";
  let usage = emptyUsage();
  for await (const ev of stream(request, signal)) {
    if (ev.type === "text_delta") text += ev.text;
    else if (ev.type === "done") usage = ev.usage;
    else if (ev.type === "error") return { ok: false, message: ev.error.message };
  }
  if (!text.trim()) return { ok: false, message: "the model returned an empty summary" };
  return { ok: true, summary: text.trim(), usage };
}
