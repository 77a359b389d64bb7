/**
 * The accumulator both wire parsers share: it receives already-decoded
 * pieces (a text delta, a tool-call fragment at an index, a usage update)
 * and is the only code that emits ProviderEvents and builds the final
 * AssistantMessage. Keeping this in one place is what makes the two wire
 * APIs produce identical event sequences for identical meaning.
 *
 * Contract: after `done()` or `fail()` the builder is finished and ignores
 * everything else, so exactly one terminal event is ever emitted. Open
 * thinking blocks and tool calls are closed (with their end events) before
 * `done`; on `fail` the partial message is kept as it stands.
 */
import {
  emptyUsage,
  type AssistantMessage,
  type ProviderError,
  type ProviderEvent,
  type StopReason,
  type ThinkingBlock,
  type ToolCall,
  type Usage,
} from "./types.ts";
import { TextBuilder } from "../util/text-builder.ts";

export type Emit = (event: ProviderEvent) => void;
export type DoneReason = Exclude<StopReason, "error" | "aborted">;

interface OpenCall {
  id: string;
  name: string;
  raw: string;
  ended: boolean;
}

/** Parsed arguments of a call; empty text means "no arguments" (some servers send ""). */
export function parseArguments(raw: string): Record<string, unknown> | undefined {
  if (raw.trim() === "") return {};
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export class TurnBuilder {
  private readonly text = new TextBuilder();
  private readonly thinking: ThinkingBlock[] = [];
  private openThinking: { text: string; signature?: string } | undefined;
  private readonly calls = new Map<number, OpenCall>();
  private usage: Usage = emptyUsage();
  private model: string;
  finished = false;

  constructor(
    model: string,
    private readonly emit: Emit,
  ) {
    this.model = model;
  }

  start(): void {
    this.emit({ type: "start", model: this.model, textSoFar: () => this.text.toString() });
  }

  /** The model name the provider reports (e.g. a dated snapshot) replaces the requested alias. */
  reportedModel(model: string): void {
    if (model) this.model = model;
  }

  textDelta(text: string): void {
    if (this.finished || text.length === 0) return;
    this.text.append(text);
    this.emit({ type: "text_delta", text });
  }

  thinkingDelta(text: string): void {
    if (this.finished || text.length === 0) return;
    this.openThinking ??= { text: "" };
    this.openThinking.text += text;
    this.emit({ type: "thinking_delta", text });
  }

  thinkingSignature(signature: string): void {
    if (this.finished) return;
    this.openThinking ??= { text: "" };
    this.openThinking.signature = (this.openThinking.signature ?? "") + signature;
  }

  /** Closes the open visible-thinking block, if any. */
  endThinking(): void {
    const open = this.openThinking;
    if (this.finished || !open) return;
    this.openThinking = undefined;
    const block: ThinkingBlock = { type: "thinking", text: open.text };
    if (open.signature) block.signature = open.signature;
    this.thinking.push(block);
    this.emit({ type: "thinking_end", block });
  }

  redactedThinking(data: string): void {
    if (this.finished) return;
    this.endThinking();
    const block: ThinkingBlock = { type: "redacted_thinking", data };
    this.thinking.push(block);
    this.emit({ type: "thinking_end", block });
  }

  /** Registers a call at `index` the first time it is seen; later id/name are ignored. */
  toolStart(index: number, id: string, name: string): void {
    if (this.finished || this.calls.has(index)) return;
    this.calls.set(index, { id, name, raw: "", ended: false });
    this.emit({ type: "toolcall_start", index, id, name });
  }

  hasCall(index: number): boolean {
    return this.calls.has(index);
  }

  toolDelta(index: number, fragment: string): void {
    const call = this.calls.get(index);
    if (this.finished || !call || call.ended || fragment.length === 0) return;
    call.raw += fragment;
    this.emit({ type: "toolcall_delta", index, argumentsDelta: fragment });
  }

  toolEnd(index: number): void {
    const call = this.calls.get(index);
    if (this.finished || !call || call.ended) return;
    call.ended = true;
    this.emit({ type: "toolcall_end", index, call: toToolCall(call) });
  }

  setUsage(usage: Usage): void {
    if (this.finished) return;
    this.usage = usage;
    this.emit({ type: "usage", usage });
  }

  get hasToolCalls(): boolean {
    return this.calls.size > 0;
  }

  done(stopReason: DoneReason): void {
    if (this.finished) return;
    this.endThinking();
    for (const index of [...this.calls.keys()].sort((a, b) => a - b)) this.toolEnd(index);
    this.finished = true;
    this.emit({ type: "done", stopReason, message: this.message(stopReason), usage: this.usage });
  }

  fail(error: ProviderError, aborted: boolean): void {
    if (this.finished) return;
    this.finished = true;
    const stopReason = aborted ? "aborted" : "error";
    this.emit({ type: "error", stopReason, error, message: this.message(stopReason), usage: this.usage });
  }

  private message(stopReason: StopReason): AssistantMessage {
    const message: AssistantMessage = {
      role: "assistant",
      content: this.text.toString(),
      model: this.model,
      stopReason,
      usage: this.usage,
      timestamp: Date.now(),
    };
    const thinking = this.openThinking
      ? [...this.thinking, { type: "thinking" as const, text: this.openThinking.text }]
      : this.thinking;
    if (thinking.length > 0) message.thinking = thinking;
    const calls = [...this.calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => toToolCall(c));
    if (calls.length > 0) message.toolCalls = calls;
    return message;
  }
}

function toToolCall(call: OpenCall): ToolCall {
  const raw = call.raw.trim() === "" ? "{}" : call.raw;
  return { id: call.id, name: call.name, rawArguments: raw, arguments: parseArguments(raw) };
}
