/**
 * Pure translations between crabtalk's wire shapes and the Agent Client
 * Protocol's: a turn's StreamEvents and a session's history become ACP
 * `session/update`s, a StreamEnd's stop reason becomes an ACP StopReason,
 * an editor's prompt blocks become the one text a StreamMsg carries, and an
 * editor's cwd is checked against the agent's configured one.
 *
 * Only types come from the SDK here (erased at build), so this file costs
 * nothing to load and is tested without a connection.
 */
import { isAbsolute, relative, resolve } from "node:path";
import type { ContentBlock, SessionUpdate, StopReason, ToolCallContent, ToolKind } from "@agentclientprotocol/sdk";
import type { HistoryMessage, StreamEvent, ToolCallInfo } from "../protocol/gen/crabtalk.ts";

/** The daemon's stop reasons (StreamEnd.stop_reason) as ACP's; `error` never gets here (it is a failed request). */
export function stopReasonOf(daemonReason: string): StopReason {
  switch (daemonReason) {
    case "length":
    case "token_budget":
      return "max_tokens";
    case "refusal":
      return "refusal";
    case "max_iterations":
      return "max_turn_requests";
    // A cancelled turn, and one the daemon stopped under (restart): either way the turn did not finish.
    case "aborted":
    case "interrupted":
      return "cancelled";
    default:
      return "end_turn";
  }
}

/** How an editor should draw a tool: by the built-in tool names, then by common name parts (MCP and extension tools). */
export function toolKindOf(name: string): ToolKind {
  const n = name.toLowerCase();
  if (n === "bash" || /(^|_)(exec|shell|run|command)/.test(n)) return "execute";
  if (n === "read" || /(^|_)(read|cat|view|get_file)/.test(n)) return "read";
  if (n === "edit" || n === "write" || /(^|_)(edit|write|patch|replace)/.test(n)) return "edit";
  if (/(^|_)(delete|remove|rm)(_|$)/.test(n)) return "delete";
  if (/(^|_)(move|rename)(_|$)/.test(n)) return "move";
  if (/search|grep|find|glob/.test(n)) return "search";
  if (/fetch|http|web|url/.test(n)) return "fetch";
  if (n === "think") return "think";
  return "other";
}

/** A tool call's arguments as JSON when they parse, the raw text when they do not (the model's own words). */
export function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A short title an editor shows for a call: the tool and, for bash, its command line. */
export function toolTitle(call: { name: string; arguments: string }): string {
  const args = parseArguments(call.arguments);
  if (args && typeof args === "object") {
    const a = args as Record<string, unknown>;
    const subject = [a.command, a.path, a.file_path, a.query, a.url].find((v) => typeof v === "string");
    if (typeof subject === "string")
      return `${call.name}: ${subject.length > 120 ? `${subject.slice(0, 117)}...` : subject}`;
  }
  return call.name;
}

function textContent(text: string): ToolCallContent[] {
  return text ? [{ type: "content", content: { type: "text", text } }] : [];
}

export function toolCallUpdate(call: ToolCallInfo): SessionUpdate {
  return {
    sessionUpdate: "tool_call",
    toolCallId: call.id,
    title: toolTitle(call),
    name: call.name,
    kind: toolKindOf(call.name),
    status: "in_progress",
    rawInput: parseArguments(call.arguments),
  };
}

export function toolResultUpdate(callId: string, output: string, isError: boolean): SessionUpdate {
  return {
    sessionUpdate: "tool_call_update",
    toolCallId: callId,
    status: isError ? "failed" : "completed",
    content: textContent(output),
    rawOutput: output,
  };
}

/**
 * The ACP updates one StreamEvent of a turn becomes. Start, end, approval
 * (a request of its own) and bookkeeping events (model call ends, injected
 * context, tools complete) become none.
 */
export function updatesOfEvent(ev: StreamEvent): SessionUpdate[] {
  switch (ev.event) {
    case "chunk":
      return ev.chunk!.content ? [{ sessionUpdate: "agent_message_chunk", content: text(ev.chunk!.content) }] : [];
    case "thinking":
      return ev.thinking!.content
        ? [{ sessionUpdate: "agent_thought_chunk", content: text(ev.thinking!.content) }]
        : [];
    case "toolStart":
      return ev.toolStart!.calls.map(toolCallUpdate);
    case "toolResult": {
      const r = ev.toolResult!;
      return [toolResultUpdate(r.callId, r.output, r.isError)];
    }
    case "toolProgress": {
      const p = ev.toolProgress!;
      return [{ sessionUpdate: "tool_call_update", toolCallId: p.callId, content: textContent(p.progress) }];
    }
    case "compaction":
      return [
        { sessionUpdate: "agent_thought_chunk", content: text(`(history compacted: ${ev.compaction!.summary})`) },
      ];
    default:
      return [];
  }
}

function text(t: string): ContentBlock {
  return { type: "text", text: t };
}

/**
 * A stored session's history as the updates a live turn would have sent:
 * user messages, thoughts, answers, each tool call and its result. Used by
 * session/load so the editor shows the conversation it resumes.
 */
export function updatesOfHistory(messages: HistoryMessage[]): SessionUpdate[] {
  const out: SessionUpdate[] = [];
  for (const m of messages) {
    if (m.role === "user" && m.content) out.push({ sessionUpdate: "user_message_chunk", content: text(m.content) });
    if (m.role === "assistant") {
      if (m.thinking) out.push({ sessionUpdate: "agent_thought_chunk", content: text(m.thinking) });
      if (m.content) out.push({ sessionUpdate: "agent_message_chunk", content: text(m.content) });
      for (const call of m.toolCalls) out.push(toolCallUpdate(call));
    }
    if (m.role === "tool" && m.toolCallId) out.push(toolResultUpdate(m.toolCallId, m.content, m.isError));
  }
  return out;
}

/**
 * The editor's prompt as the one text a turn carries. Text is kept as is;
 * an embedded text resource (a file the editor attached) is quoted with its
 * URI; a link is named by its URI, since the agent reads files itself.
 * Binary blocks (images, audio, blob resources) are refused: initialize does
 * not declare them.
 */
export function promptText(blocks: ContentBlock[]): string {
  const parts: string[] = [];
  for (const b of blocks) {
    if (b.type === "text") parts.push(b.text);
    else if (b.type === "resource_link") parts.push(`[${b.name}](${b.uri})`);
    else if (b.type === "resource" && "text" in b.resource)
      parts.push(`Content of ${b.resource.uri}:\n\`\`\`\n${b.resource.text}\n\`\`\``);
    else throw new Error(`crabtalk acp takes text, resource links and text resources; got a block of type ${b.type}`);
  }
  return parts.join("\n\n");
}

/**
 * Why an editor's cwd is refused for an agent, or null when it is allowed.
 * An agent's tools run in its configured cwd, so a session may only be opened
 * at that directory or below it: anything else would promise the editor a
 * workspace the agent never sees.
 */
export function cwdRefusal(editorCwd: string, agent: string, agentCwd: string): string | null {
  if (!isAbsolute(editorCwd)) return `cwd must be an absolute path, got "${editorCwd}"`;
  if (!agentCwd) return null;
  const rel = relative(resolve(agentCwd), resolve(editorCwd));
  if (rel === "" || (!rel.startsWith("..") && !isAbsolute(rel))) return null;
  return `agent "${agent}" works in ${agentCwd} and its tools run there, so it cannot open a session at ${editorCwd}; open the editor inside ${agentCwd}, or set cwd = "${editorCwd}" in [agents.${agent}] of crabtalk.toml`;
}
