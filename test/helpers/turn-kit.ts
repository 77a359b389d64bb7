/**
 * Shared pieces of the turn end-to-end tests (test/e2e/turns-*.test.ts): a
 * daemon config pointing one agent at the fake provider, collecting a
 * turn's replies, and reading what the daemon sent the model (the messages
 * of a recorded Chat Completions request).
 */
import { readFileSync } from "node:fs";
import type { CrabtalkClient } from "../../src/client/client.ts";
import type { ServerMessage, StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import type { RecordedRequest } from "./fake-provider.ts";

/** A daemon config with agent `crab` on the fake provider; `extra` is appended (more agents, permissions, budget). */
export function turnConfig(fakeUrl: string, extra = "", daemonExtra = ""): string {
  return `[daemon]
tcp = false
approval_timeout_ms = 1500
${daemonExtra}
[provider.fake]
kind = "openai"
base_url = "${fakeUrl}/v1"
models = ["fake-model"]

[agents.crab]
model = "fake-model"
${extra}
`;
}

/** Every reply of a StreamMsg until its end (or the ErrorMsg, rethrown by the client). */
export async function streamTurn(
  client: CrabtalkClient,
  req: { agent?: string; content: string; session?: number; sender?: string },
): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const reply of client.stream({
    stream: { agent: req.agent ?? "crab", content: req.content, session: req.session, sender: req.sender },
  })) {
    if (reply.stream) events.push(reply.stream);
  }
  return events;
}

export function kinds(events: StreamEvent[]): string[] {
  return events.map((e) => e.event ?? "?");
}

export function endOf(events: StreamEvent[]): NonNullable<StreamEvent["end"]> {
  const end = events.at(-1)?.end;
  if (!end) throw new Error(`turn did not end with StreamEnd: ${kinds(events).join(",")}`);
  return end;
}

export function textOf(events: StreamEvent[]): string {
  return events.map((e) => e.chunk?.content ?? "").join("");
}

export function sessionOf(events: StreamEvent[]): number {
  const id = events[0]?.start?.session;
  if (!id) throw new Error("turn did not begin with StreamStart");
  return Number(id);
}

/** A chat message as the OpenAI-compatible provider sends it. */
export interface WireChatMessage {
  role: string;
  content?: unknown;
  tool_call_id?: string;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
}

export function messagesOf(req: RecordedRequest): WireChatMessage[] {
  const body = req.body as { messages?: WireChatMessage[] } | undefined;
  return body?.messages ?? [];
}

/** The text of a message's content, whether a string or content parts. */
export function contentText(m: WireChatMessage): string {
  if (typeof m.content === "string") return m.content;
  if (Array.isArray(m.content)) return m.content.map((p: { text?: string }) => p.text ?? "").join("");
  return "";
}

/** The system prompt a request carried, all system messages joined. */
export function systemTextOf(req: RecordedRequest): string {
  return messagesOf(req)
    .filter((m) => m.role === "system")
    .map(contentText)
    .join("\n");
}

/** The tool results a request carries after its last assistant message, in order. */
export function toolResultsOf(req: RecordedRequest): { id: string; text: string }[] {
  const msgs = messagesOf(req);
  const out: { id: string; text: string }[] = [];
  for (const m of msgs) if (m.role === "tool") out.push({ id: m.tool_call_id ?? "", text: contentText(m) });
  return out;
}

export function lastUserText(req: RecordedRequest): string {
  const users = messagesOf(req).filter((m) => m.role === "user");
  return users.length ? contentText(users.at(-1)!) : "";
}

/** Whether a process exists (signal 0). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/**
 * A long OpenAI-style text stream generated lazily: `count` deltas of
 * `size` characters, each starting with its index ("#17:xxxx"), so a reader
 * can tell which delta an event carries. Written in batches of `batch`
 * deltas per HTTP write, ending with usage and [DONE].
 */
export function* floodSse(count: number, size: number, batch = 200, model = "fake-model"): Generator<string> {
  const head = `{"id":"chatcmpl-flood","object":"chat.completion.chunk","created":1700000000,"model":"${model}","choices":[{"index":0,"delta":{"content":`;
  const tail = `},"logprobs":null,"finish_reason":null}]}`;
  let out = "";
  for (let i = 0; i < count; i++) {
    const label = `#${i}:`;
    out += `data: ${head}${JSON.stringify(label + "x".repeat(Math.max(0, size - label.length)))}${tail}\n\n`;
    if ((i + 1) % batch === 0) {
      yield out;
      out = "";
    }
  }
  const base = { id: "chatcmpl-flood", object: "chat.completion.chunk", created: 1_700_000_000, model };
  out += `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }] })}\n\n`;
  out += `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: count, total_tokens: 10 + count } })}\n\n`;
  yield `${out}data: [DONE]\n\n`;
}

/** Resident memory of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) * 1024;
}

export type { ServerMessage };
