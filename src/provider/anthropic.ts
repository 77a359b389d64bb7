/**
 * The Anthropic Messages API: the request body and the event-to-event
 * translation.
 *
 * Stream contract, as the recordings show it: content blocks are strictly
 * sequential by index (text, thinking with one `signature_delta` before its
 * stop, `redacted_thinking` delivered whole in its start, `tool_use` with
 * `input_json_delta` fragments); `message_delta.usage` is cumulative and
 * replaces earlier numbers; the turn ends at `message_stop`, and an
 * `event: error` can arrive inside a 200 stream. JSON padding and `ping`s
 * are noise a JSON parser absorbs.
 *
 * Usage: promptTokens counts ALL input the request consumed (input_tokens +
 * cache reads + cache writes) so it means the same as OpenAI's prompt_tokens;
 * the cache parts are also reported separately.
 *
 * Requests replay thinking exactly as Anthropic requires for tool use: the
 * assistant turn starts with its thinking blocks (signature unchanged) and
 * redacted_thinking blocks, then text, then tool_use; tool results go back
 * as tool_result blocks in one user message.
 */
import { errorFromStreamPayload, networkError } from "./errors.ts";
import type { HttpOptions } from "./http.ts";
import { headText, joinJson, keptText, prefixFormat, prefixHeads, prefixTakes, takenJson } from "./kept-prefix.ts";
import { runStream, type WireNormalizer } from "./run.ts";
import type { SseEvent } from "./sse.ts";
import { TurnBuilder, type DoneReason, type Emit } from "./turn.ts";
import {
  type AssistantMessage,
  type EncodedPrefix,
  type Message,
  type ModelRequest,
  type Provider,
  type ProviderEvent,
  startsWith,
  type Usage,
} from "./types.ts";

export const ANTHROPIC_VERSION = "2023-06-01";

export interface AnthropicConfig {
  name: string;
  /** https://api.anthropic.com or .../v1; `/v1/messages` (or `/messages`) is appended. */
  baseUrl: string;
  apiKey?: string;
  headers?: Record<string, string>;
  http: HttpOptions;
}

export function createAnthropicProvider(config: AnthropicConfig): Provider {
  const base = config.baseUrl.replace(/\/+$/, "");
  const url = base.endsWith("/v1") ? `${base}/messages` : `${base}/v1/messages`;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "text/event-stream",
    "anthropic-version": ANTHROPIC_VERSION,
    ...config.headers,
  };
  if (config.apiKey) headers["x-api-key"] = config.apiKey;
  return {
    name: config.name,
    prepare(messages: readonly Message[]): void {
      turnsJson(messages);
    },
    exportPrefix(messages: readonly Message[]): EncodedPrefix | undefined {
      // The turns before the last one: later messages can still join the last (see turnsJson).
      const { turns, starts } = anthropicTurns(messages);
      const last = turns.length - 1;
      if (last < 1) return undefined;
      return {
        format: turnsPrefixFormat(),
        count: starts[last]!,
        json: Buffer.from(JSON.stringify(turns.slice(0, last)).slice(1, -1)),
      };
    },
    importPrefix(messages: readonly Message[], prefix: EncodedPrefix): boolean {
      if (!prefixTakes(prefix, turnsPrefixFormat(), messages)) return false;
      const kept = { messages: messages.slice(0, prefix.count), json: takenJson(prefix), cut: prefix.count };
      encodedTurns.set(messages[0]!, kept);
      return true;
    },
    takesPrefix(prefix: EncodedPrefix): boolean {
      return prefixHeads(prefix, turnsPrefixFormat());
    },
    prepareHead(prefix: EncodedPrefix): void {
      if (prefixHeads(prefix, turnsPrefixFormat())) headText(prefix);
    },
    stream(request: ModelRequest, signal?: AbortSignal): AsyncIterable<ProviderEvent> {
      return runStream(
        {
          url,
          headers,
          body: () => messagesBodyJson(request),
          http: config.http,
          normalizer: (emit) => new AnthropicNormalizer(request.model, emit, config.http.secrets),
        },
        signal,
      );
    },
  };
}

/**
 * Anthropic requires max_tokens. The default stays well under each family's
 * output cap (Claude 3: 4,096; 3.5: 8,192; 3.7 and 4.x: 32k-64k): 16k leaves
 * room for thinking plus long tool arguments without reserving the whole cap.
 */
export function defaultMaxTokens(model: string): number {
  if (/claude-3-(opus|sonnet|haiku)/.test(model)) return 4096;
  if (/claude-3-5/.test(model)) return 8192;
  return 16384;
}

/** Smallest budget the API accepts. */
const MIN_THINKING_BUDGET = 1024;

/** The body as an object: the reference messagesBodyJson must equal; a request with a `head` has no such object. */
export function buildMessagesBody(request: ModelRequest): Record<string, unknown> {
  let maxTokens = request.maxTokens ?? defaultMaxTokens(request.model);
  const body: Record<string, unknown> = { model: request.model, max_tokens: maxTokens, stream: true };
  if (request.system) body.system = request.system;
  body.messages = toAnthropicMessages(request.messages);
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters }));
  }
  if (request.thinking) {
    // budget_tokens must be >= 1024 and below max_tokens: half the output goes to thinking.
    if (maxTokens < 2 * MIN_THINKING_BUDGET) maxTokens = 2 * MIN_THINKING_BUDGET;
    body.max_tokens = maxTokens;
    body.thinking = { type: "enabled", budget_tokens: Math.max(MIN_THINKING_BUDGET, Math.floor(maxTokens / 2)) };
  }
  return body;
}

type Block = Record<string, unknown>;
interface Turn {
  role: "user" | "assistant";
  content: Block[];
}

export function toAnthropicMessages(messages: ModelRequest["messages"]): Turn[] {
  return anthropicTurns(messages).turns;
}

/** The turns of `messages` and, for each, the index of the message it starts at. */
function anthropicTurns(messages: readonly Message[]): { turns: Turn[]; starts: number[] } {
  const out: Turn[] = [];
  const starts: number[] = [];
  // Consecutive tool results (and a user message right after them) share
  // one user turn: the API wants every tool_result of an assistant turn in
  // the next user message, first.
  const userTurn = (i: number): Turn => {
    const last = out[out.length - 1];
    if (last && last.role === "user") return last;
    const turn: Turn = { role: "user", content: [] };
    out.push(turn);
    starts.push(i);
    return turn;
  };
  messages.forEach((m, i) => {
    if (m.role === "user") {
      userTurn(i).content.push({ type: "text", text: m.content });
    } else if (m.role === "tool") {
      const block: Block = { type: "tool_result", tool_use_id: m.toolCallId, content: m.content };
      if (m.isError) block.is_error = true;
      userTurn(i).content.push(block);
    } else {
      const content = assistantBlocks(m);
      if (content.length > 0) {
        out.push({ role: "assistant", content });
        starts.push(i);
      }
    }
  });
  return { turns: out, starts };
}

/**
 * The JSON of a request's turns, kept for the next request of the same
 * conversation (as openai-chat.ts keeps its messages' JSON): messages are
 * values and turns only append, so the next request re-encodes only from
 * the start of the last turn on (a user turn can still take the tool
 * results and the user message that follow it). Keyed by the first message
 * object; a request not starting with the kept messages is encoded whole.
 */
interface EncodedTurns {
  messages: readonly Message[];
  /**
   * The JSON of every turn before the one starting at `cut`, comma-separated;
   * UTF-8 when taken back from disk (importPrefix), decoded on first use.
   */
  json: string | Uint8Array;
  cut: number;
}
const encodedTurns = new WeakMap<Message, EncodedTurns>();

/** Kept prefixes' format (kept-prefix.ts): /1 is the layout above, closed turns comma-separated. */
const turnsPrefixFormat = prefixFormat("anthropic-messages/1", anthropicTurns, assistantBlocks);

function turnsJson(messages: readonly Message[]): string {
  const first = messages[0];
  if (first === undefined) return "";
  const known = encodedTurns.get(first);
  const reuse = known !== undefined && startsWith(messages, known.messages);
  const from = reuse ? known.cut : 0;
  const { turns, starts } = anthropicTurns(from === 0 ? messages : messages.slice(from));
  const last = turns.length - 1;
  // A whole conversation is one stringify (several times faster than one per turn); a few new turns one each.
  const closed =
    from === 0
      ? JSON.stringify(turns.slice(0, Math.max(0, last))).slice(1, -1)
      : turns
          .slice(0, Math.max(0, last))
          .map((t) => JSON.stringify(t))
          .join(",");
  const kept = joinJson(reuse ? keptText(known) : "", closed);
  encodedTurns.set(first, { messages: messages.slice(), json: kept, cut: last < 0 ? from : from + starts[last]! });
  return last < 0 ? kept : joinJson(kept, JSON.stringify(turns[last]));
}

/** JSON.stringify(buildMessagesBody(request)), character for character, with the turns' JSON reused (turnsJson). */
export function messagesBodyJson(request: ModelRequest): string {
  const { head, ...rest } = request;
  const shell = JSON.stringify(buildMessagesBody({ ...rest, messages: [] }));
  // The first `"messages":[]` is the key itself: the fields before it are a string, numbers and booleans.
  const at = shell.indexOf('"messages":[]') + '"messages":['.length;
  // A head holds whole turns (exportPrefix cuts at a turn's start), so the messages after it start a turn.
  const messages = head
    ? joinJson(headText(head), ...anthropicTurns(request.messages).turns.map((t) => JSON.stringify(t)))
    : turnsJson(request.messages);
  return shell.slice(0, at) + messages + shell.slice(at);
}

function assistantBlocks(m: AssistantMessage): Block[] {
  const blocks: Block[] = [];
  for (const t of m.thinking ?? []) {
    if (t.type === "redacted_thinking") blocks.push({ type: "redacted_thinking", data: t.data });
    // Unsigned thinking (from another provider) would be rejected; drop it.
    else if (t.signature) blocks.push({ type: "thinking", thinking: t.text, signature: t.signature });
  }
  if (m.content.length > 0) blocks.push({ type: "text", text: m.content });
  for (const c of m.toolCalls ?? []) {
    blocks.push({ type: "tool_use", id: c.id, name: c.name, input: c.arguments ?? {} });
  }
  return blocks;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export class AnthropicNormalizer implements WireNormalizer {
  readonly turn: TurnBuilder;
  private readonly raw = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
  private stopReasonRaw: string | undefined;
  /** Kind of each open content block, by index. */
  private readonly blocks = new Map<number, string>();

  constructor(
    model: string,
    emit: Emit,
    private readonly secrets: readonly string[] = [],
  ) {
    this.turn = new TurnBuilder(model, emit);
  }

  handle(event: SseEvent): void {
    let payload: unknown;
    try {
      payload = JSON.parse(event.data);
    } catch {
      if (event.event === "error")
        return this.turn.fail(errorFromStreamPayload({ error: { message: event.data } }, this.secrets), false);
      return this.turn.fail(
        networkError(
          `the provider sent a malformed event: ${event.data.slice(0, 200)}`,
          "malformed_chunk",
          false,
          this.secrets,
        ),
        false,
      );
    }
    if (!isObject(payload)) return;
    const type = typeof payload.type === "string" ? payload.type : event.event;
    switch (type) {
      case "message_start": {
        const message = isObject(payload.message) ? payload.message : {};
        if (typeof message.model === "string") this.turn.reportedModel(message.model);
        if (isObject(message.usage)) this.usage(message.usage);
        return;
      }
      case "content_block_start":
        return this.blockStart(payload);
      case "content_block_delta":
        return this.blockDelta(payload);
      case "content_block_stop":
        return this.blockStop(payload);
      case "message_delta": {
        const delta = isObject(payload.delta) ? payload.delta : {};
        if (typeof delta.stop_reason === "string") this.stopReasonRaw = delta.stop_reason;
        if (isObject(payload.usage)) this.usage(payload.usage);
        return;
      }
      case "message_stop":
        return this.turn.done(this.stopReason());
      case "error":
        return this.turn.fail(errorFromStreamPayload(payload, this.secrets), false);
      default:
        // ping and event types added after this was written carry nothing we need.
        return;
    }
  }

  private blockStart(payload: Json): void {
    const index = typeof payload.index === "number" ? payload.index : 0;
    const block = isObject(payload.content_block) ? payload.content_block : {};
    const kind = typeof block.type === "string" ? block.type : "";
    this.blocks.set(index, kind);
    if (kind === "text" && typeof block.text === "string") this.turn.textDelta(block.text);
    else if (kind === "thinking" && typeof block.thinking === "string") this.turn.thinkingDelta(block.thinking);
    else if (kind === "redacted_thinking" && typeof block.data === "string") this.turn.redactedThinking(block.data);
    else if (kind === "tool_use") {
      this.turn.toolStart(index, String(block.id ?? `toolu_${index}`), String(block.name ?? ""));
      // Streams send `input: {}` here and the real input as deltas; a server
      // that sends the whole input up front is taken at its word.
      if (isObject(block.input) && Object.keys(block.input).length > 0)
        this.turn.toolDelta(index, JSON.stringify(block.input));
    }
  }

  private blockDelta(payload: Json): void {
    const index = typeof payload.index === "number" ? payload.index : 0;
    const delta = isObject(payload.delta) ? payload.delta : {};
    switch (delta.type) {
      case "text_delta":
        if (typeof delta.text === "string") this.turn.textDelta(delta.text);
        return;
      case "thinking_delta":
        if (typeof delta.thinking === "string") this.turn.thinkingDelta(delta.thinking);
        return;
      case "signature_delta":
        if (typeof delta.signature === "string") this.turn.thinkingSignature(delta.signature);
        return;
      case "input_json_delta":
        if (typeof delta.partial_json === "string") this.turn.toolDelta(index, delta.partial_json);
        return;
      default:
        return;
    }
  }

  private blockStop(payload: Json): void {
    const index = typeof payload.index === "number" ? payload.index : 0;
    const kind = this.blocks.get(index);
    this.blocks.delete(index);
    if (kind === "thinking") this.turn.endThinking();
    else if (kind === "tool_use") this.turn.toolEnd(index);
  }

  private usage(u: Json): void {
    if (typeof u.input_tokens === "number") this.raw.input = u.input_tokens;
    if (typeof u.output_tokens === "number") this.raw.output = u.output_tokens;
    if (typeof u.cache_read_input_tokens === "number") this.raw.cacheRead = u.cache_read_input_tokens;
    if (typeof u.cache_creation_input_tokens === "number") this.raw.cacheWrite = u.cache_creation_input_tokens;
    const usage: Usage = {
      promptTokens: this.raw.input + this.raw.cacheRead + this.raw.cacheWrite,
      completionTokens: this.raw.output,
      cacheReadTokens: this.raw.cacheRead,
      cacheWriteTokens: this.raw.cacheWrite,
      reasoningTokens: 0,
    };
    this.turn.setUsage(usage);
  }

  end(): void {
    if (this.turn.finished) return;
    // A stop_reason without message_stop still says the answer is complete.
    if (this.stopReasonRaw !== undefined) return this.turn.done(this.stopReason());
    this.turn.fail(
      networkError("the stream ended before the model finished its answer", "incomplete_stream", true, this.secrets),
      false,
    );
  }

  private stopReason(): DoneReason {
    switch (this.stopReasonRaw) {
      case "max_tokens":
      case "model_context_window_exceeded":
        return "length";
      case "tool_use":
        return "tool_calls";
      case "refusal":
        return "refusal";
      default:
        // end_turn, stop_sequence, pause_turn
        return this.turn.hasToolCalls ? "tool_calls" : "stop";
    }
  }
}
