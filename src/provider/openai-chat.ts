/**
 * Any OpenAI-compatible Chat Completions endpoint (OpenAI, DeepSeek,
 * OpenRouter, Groq, Together, Ollama, vLLM, llama.cpp, LM Studio): the
 * request body and the chunk-to-event translation.
 *
 * Stream contract, as the recordings show it: tool-call id and name come on
 * a call's first delta only, fragments follow keyed by `index`; reasoning
 * arrives as `reasoning_content` (DeepSeek) or `reasoning` (OpenRouter,
 * Groq); `finish_reason` comes before the usage chunk, so the turn ends at
 * `[DONE]` (or at the end of the body when a server omits it); with n>1
 * only choice 0 is followed. Usage maps prompt_tokens (which includes cached
 * input) to promptTokens, cached tokens (DeepSeek: prompt_cache_hit_tokens)
 * to cacheReadTokens.
 *
 * Reasoning text is never sent back in a request: DeepSeek rejects
 * `reasoning_content` in input messages and OpenAI has no field for it.
 */
import { errorFromStreamPayload, networkError } from "./errors.ts";
import type { HttpOptions } from "./http.ts";
import { headText, joinJson, keptText, prefixFormat, prefixHeads, prefixTakes, takenJson } from "./kept-prefix.ts";
import { runStream, type WireNormalizer } from "./run.ts";
import type { SseEvent } from "./sse.ts";
import { TurnBuilder, type DoneReason, type Emit } from "./turn.ts";
import {
  type EncodedPrefix,
  type Message,
  type ModelRequest,
  type Provider,
  type ProviderEvent,
  startsWith,
  type ToolSchema,
  type Usage,
} from "./types.ts";

export interface OpenAIChatConfig {
  name: string;
  /** e.g. https://api.openai.com/v1; `/chat/completions` is appended. */
  baseUrl: string;
  apiKey?: string;
  headers?: Record<string, string>;
  http: HttpOptions;
}

export function createOpenAIChatProvider(config: OpenAIChatConfig): Provider {
  const url = `${config.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "text/event-stream",
    ...config.headers,
  };
  if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
  return {
    name: config.name,
    prepare(messages: readonly Message[]): void {
      messagesJson(messages);
    },
    exportPrefix(messages: readonly Message[]): EncodedPrefix | undefined {
      if (messages.length === 0) return undefined;
      return { format: chatPrefixFormat(), count: messages.length, json: Buffer.from(messagesJsonOnce(messages)) };
    },
    importPrefix(messages: readonly Message[], prefix: EncodedPrefix): boolean {
      if (!prefixTakes(prefix, chatPrefixFormat(), messages)) return false;
      encodedPrefixes.set(messages[0]!, { messages: messages.slice(0, prefix.count), json: takenJson(prefix) });
      return true;
    },
    takesPrefix(prefix: EncodedPrefix): boolean {
      return prefixHeads(prefix, chatPrefixFormat());
    },
    prepareHead(prefix: EncodedPrefix): void {
      if (prefixHeads(prefix, chatPrefixFormat())) headText(prefix);
    },
    stream(request: ModelRequest, signal?: AbortSignal): AsyncIterable<ProviderEvent> {
      return runStream(
        {
          url,
          headers,
          body: () => chatBodyJson(request, config.baseUrl),
          http: config.http,
          normalizer: (emit) => new OpenAIChatNormalizer(request.model, emit, config.http.secrets),
        },
        signal,
      );
    },
  };
}

/** o1/o3/o4-mini and gpt-5 reject `max_tokens` and take `reasoning_effort`. */
export function isOpenAIReasoningModel(model: string): boolean {
  return /^(o\d|gpt-5)/.test(model.replace(/^openai\//, ""));
}

/**
 * Reasoning switches differ per host, and OpenAI answers 400 to fields it
 * does not know, so they are chosen by host and model rather than sent blindly.
 */
function reasoningFields(model: string, baseUrl: string): Record<string, unknown> {
  const host = hostOf(baseUrl);
  if (host.endsWith("openrouter.ai")) return { reasoning: { effort: "medium" } };
  if (host.endsWith("deepseek.com")) return { thinking: { type: "enabled" } };
  if (host.endsWith("api.openai.com") && !isOpenAIReasoningModel(model)) return {};
  return { reasoning_effort: "medium" };
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return "";
  }
}

/** The body as an object: the reference chatBodyJson must equal; a request with a `head` has no such object. */
export function buildChatBody(request: ModelRequest, baseUrl: string): Record<string, unknown> {
  const messages: Record<string, unknown>[] = [];
  if (request.system) messages.push({ role: "system", content: request.system });
  for (const m of request.messages) messages.push(toChatMessage(m));
  return { model: request.model, messages, ...chatOptions(request, baseUrl) };
}

/** Every field of the body after `messages`, in the order the body has them. */
function chatOptions(request: ModelRequest, baseUrl: string): Record<string, unknown> {
  const body: Record<string, unknown> = { stream: true, stream_options: { include_usage: true } };
  if (request.tools && request.tools.length > 0) body.tools = request.tools.map(toChatTool);
  if (request.maxTokens !== undefined) {
    body[isOpenAIReasoningModel(request.model) ? "max_completion_tokens" : "max_tokens"] = request.maxTokens;
  }
  if (request.thinking) Object.assign(body, reasoningFields(request.model, baseUrl));
  return body;
}

/**
 * The JSON of a request's messages, kept for the next request: a message is
 * a value, never changed once made (turns append new ones, compaction
 * replaces the list), so the next request of the same conversation starts
 * with the same message objects and only the ones after them are encoded.
 * Keyed by the first message object (a WeakMap, so the entry goes with the
 * conversation's history); a request whose messages do not start with the
 * kept ones, object for object, is encoded whole and kept instead. Costs
 * one string as long as the messages' JSON per conversation in memory.
 */
interface KeptPrefix {
  messages: readonly Message[];
  /**
   * The JSON of `messages`, comma-separated, without brackets; UTF-8 when
   * taken back from disk (importPrefix), decoded on first use: that is
   * prepare() during the question's fsync, not the resume before it.
   */
  json: string | Uint8Array;
}
const encodedPrefixes = new WeakMap<Message, KeptPrefix>();

function messagesJson(messages: readonly Message[]): string {
  const first = messages[0];
  if (first === undefined) return "";
  const known = encodedPrefixes.get(first);
  let json: string;
  if (known && startsWith(messages, known.messages)) {
    const rest = messages.slice(known.messages.length).map((m) => JSON.stringify(toChatMessage(m)));
    json = rest.length === 0 ? keptText(known) : `${keptText(known)},${rest.join(",")}`;
  } else json = encodeWhole(messages);
  encodedPrefixes.set(first, { messages: messages.slice(), json });
  return json;
}

/** One stringify of the whole list: several times faster than one per message. */
const encodeWhole = (messages: readonly Message[]): string => JSON.stringify(messages.map(toChatMessage)).slice(1, -1);

/** The messages' JSON as messagesJson gives it, reusing but never replacing what is kept. */
function messagesJsonOnce(messages: readonly Message[]): string {
  const known = encodedPrefixes.get(messages[0]!);
  if (known && known.messages.length === messages.length && startsWith(messages, known.messages))
    return keptText(known);
  return encodeWhole(messages);
}

/** Kept prefixes' format (kept-prefix.ts): /1 is the layout above, messages comma-separated without brackets. */
const chatPrefixFormat = prefixFormat("openai-chat/1", toChatMessage);

/** JSON.stringify(buildChatBody(request, baseUrl)), character for character, with the messages' JSON reused (messagesJson). */
export function chatBodyJson(request: ModelRequest, baseUrl: string): string {
  const system = request.system ? JSON.stringify({ role: "system", content: request.system }) : "";
  const messages = request.head
    ? joinJson(headText(request.head), encodeWhole(request.messages))
    : messagesJson(request.messages);
  const list = joinJson(system, messages);
  // The options always hold `stream`, so their JSON is "{...}" with at least one field: it continues after "],".
  const options = JSON.stringify(chatOptions(request, baseUrl));
  return `{"model":${JSON.stringify(request.model)},"messages":[${list}],${options.slice(1)}`;
}

function toChatMessage(m: Message): Record<string, unknown> {
  switch (m.role) {
    case "user":
      return { role: "user", content: m.content };
    case "tool":
      return { role: "tool", tool_call_id: m.toolCallId, content: m.content };
    case "assistant": {
      const calls = m.toolCalls ?? [];
      if (calls.length === 0) return { role: "assistant", content: m.content };
      return {
        role: "assistant",
        // A tool-calling turn with no text must send null, not "".
        content: m.content.length > 0 ? m.content : null,
        tool_calls: calls.map((c) => ({
          id: c.id,
          type: "function",
          function: { name: c.name, arguments: c.rawArguments },
        })),
      };
    }
  }
}

function toChatTool(tool: ToolSchema): Record<string, unknown> {
  return {
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: tool.parameters },
  };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

export function chatUsage(u: Json): Usage {
  const prompt = isObject(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const completion = isObject(u.completion_tokens_details) ? u.completion_tokens_details : {};
  return {
    promptTokens: num(u.prompt_tokens),
    completionTokens: num(u.completion_tokens),
    cacheReadTokens:
      typeof u.prompt_cache_hit_tokens === "number" ? u.prompt_cache_hit_tokens : num(prompt.cached_tokens),
    cacheWriteTokens: num(prompt.cache_write_tokens),
    reasoningTokens: num(completion.reasoning_tokens),
  };
}

export class OpenAIChatNormalizer implements WireNormalizer {
  readonly turn: TurnBuilder;
  private finishReason: string | undefined;
  private refused = false;

  constructor(
    model: string,
    emit: Emit,
    private readonly secrets: readonly string[] = [],
  ) {
    this.turn = new TurnBuilder(model, emit);
  }

  handle(event: SseEvent): void {
    const data = event.data;
    if (event.event === "error") return this.turn.fail(errorFromStreamPayload(parseOr(data), this.secrets), false);
    if (data === "[DONE]") return this.turn.done(this.stopReason());
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return this.turn.fail(
        networkError(
          `the provider sent a malformed chunk: ${data.slice(0, 200)}`,
          "malformed_chunk",
          false,
          this.secrets,
        ),
        false,
      );
    }
    if (!isObject(chunk)) return;
    if (chunk.error !== undefined && chunk.error !== null)
      return this.turn.fail(errorFromStreamPayload(chunk, this.secrets), false);
    if (typeof chunk.model === "string") this.turn.reportedModel(chunk.model);
    if (Array.isArray(chunk.choices)) {
      for (const choice of chunk.choices) {
        // n>1 interleaves choices; the conversation continues with choice 0.
        if (isObject(choice) && (choice.index === undefined || choice.index === 0)) this.choice(choice);
      }
    }
    if (isObject(chunk.usage)) this.turn.setUsage(chatUsage(chunk.usage));
  }

  private choice(choice: Json): void {
    const delta = isObject(choice.delta) ? choice.delta : {};
    const reasoning = typeof delta.reasoning_content === "string" ? delta.reasoning_content : delta.reasoning;
    if (typeof reasoning === "string") this.turn.thinkingDelta(reasoning);
    if (typeof delta.content === "string" && delta.content.length > 0) {
      this.turn.endThinking();
      this.turn.textDelta(delta.content);
    }
    if (typeof delta.refusal === "string" && delta.refusal.length > 0) {
      // Refusal text is what the user needs to read; it goes out as text.
      this.refused = true;
      this.turn.endThinking();
      this.turn.textDelta(delta.refusal);
    }
    if (Array.isArray(delta.tool_calls)) {
      delta.tool_calls.forEach((tc: unknown, position: number) => {
        if (!isObject(tc)) return;
        const index = typeof tc.index === "number" ? tc.index : position;
        const fn = isObject(tc.function) ? tc.function : {};
        if (!this.turn.hasCall(index)) {
          this.turn.endThinking();
          const id = typeof tc.id === "string" && tc.id ? tc.id : `call_${index}`;
          this.turn.toolStart(index, id, typeof fn.name === "string" ? fn.name : "");
        }
        if (typeof fn.arguments === "string") this.turn.toolDelta(index, fn.arguments);
      });
    }
    if (typeof choice.finish_reason === "string") this.finishReason = choice.finish_reason;
  }

  end(): void {
    if (this.turn.finished) return;
    if (this.finishReason !== undefined) return this.turn.done(this.stopReason());
    this.turn.fail(
      networkError("the stream ended before the model finished its answer", "incomplete_stream", true, this.secrets),
      false,
    );
  }

  private stopReason(): DoneReason {
    if (this.refused || this.finishReason === "content_filter") return "refusal";
    if (this.finishReason === "length") return "length";
    // Some servers (Ollama, older vLLM) say "stop" after tool calls.
    if (this.finishReason === "tool_calls" || this.finishReason === "function_call" || this.turn.hasToolCalls)
      return "tool_calls";
    return "stop";
  }
}

function parseOr(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return { error: { message: data } };
  }
}
