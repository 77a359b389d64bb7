/**
 * Shared pieces of the turn end-to-end tests (test/e2e/turns-*.test.ts): a
 * daemon config pointing one agent at the fake provider, collecting a
 * turn's replies, and reading what the daemon sent the model (the messages
 * of a recorded Chat Completions request).
 */
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
export async function streamTurn(client: CrabtalkClient, req: { agent?: string; content: string; session?: number; sender?: string }): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const reply of client.stream({ stream: { agent: req.agent ?? "crab", content: req.content, session: req.session, sender: req.sender } })) {
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

export type { ServerMessage };
