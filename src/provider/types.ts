/**
 * The normalized model-stream contract every provider implements. One wire
 * API per file (openai-chat.ts, anthropic.ts) turns its SSE into these
 * events; the agent loop reads only these.
 *
 * Contract: `stream()` never throws. Every stream ends with exactly one
 * terminal event, `done` or `error`; after it nothing more is pushed.
 * A cancelled request ends with `error` whose stopReason is "aborted".
 */

/** Conversation messages: the history a session keeps and a request carries. */
export type Message = UserMessage | AssistantMessage | ToolResultMessage;

export interface UserMessage {
  role: "user";
  content: string;
  timestamp?: number;
}

export type ThinkingBlock =
  /** Visible reasoning. Anthropic requires `signature` to be sent back unchanged. */
  | { type: "thinking"; text: string; signature?: string }
  /** Opaque encrypted reasoning (Anthropic redacted_thinking), sent back as is. */
  | { type: "redacted_thinking"; data: string };

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model sent them (JSON text, possibly invalid). */
  rawArguments: string;
  /** Parsed arguments; undefined when rawArguments is not a JSON object. */
  arguments: Record<string, unknown> | undefined;
}

export interface AssistantMessage {
  role: "assistant";
  content: string;
  thinking?: ThinkingBlock[];
  toolCalls?: ToolCall[];
  model?: string;
  stopReason?: StopReason;
  usage?: Usage;
  timestamp?: number;
}

export interface ToolResultMessage {
  role: "tool";
  toolCallId: string;
  name: string;
  content: string;
  isError: boolean;
  timestamp?: number;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
}

export const emptyUsage = (): Usage => ({
  promptTokens: 0,
  completionTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
});

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
}

export const totalTokens = (u: Usage): number => u.promptTokens + u.completionTokens;

export type StopReason = "stop" | "length" | "tool_calls" | "refusal" | "error" | "aborted";

/**
 * `messages` begins with exactly the objects of `prefix` (messages are
 * values: the providers' request caches key on object identity). A loop:
 * about three times quicker than every() over a 10,000-message history.
 */
export function startsWith(messages: readonly Message[], prefix: readonly Message[]): boolean {
  if (prefix.length > messages.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== messages[i]) return false;
  return true;
}

export interface ToolSchema {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface ModelRequest {
  model: string;
  system?: string;
  /** The conversation; with `head`, only the messages after the ones it stands for. */
  messages: Message[];
  /**
   * The conversation's first messages as a kept request prefix, not as
   * objects (the first request after a resume goes out before they are
   * built). Set only when the provider said it takes this prefix
   * (StreamFn.takesPrefix); its JSON is sent as those messages.
   */
  head?: EncodedPrefix;
  tools?: ToolSchema[];
  /** Upper bound on output tokens; providers pick a per-model default when absent. */
  maxTokens?: number;
  /** Ask for reasoning/thinking output where the API supports it. */
  thinking?: boolean;
}

export interface ProviderError {
  /** HTTP status when the provider answered one; undefined for network failures. */
  status?: number;
  /** The provider's own message (secrets redacted). */
  message: string;
  /** Provider error type/code when given, e.g. "invalid_api_key". */
  code?: string;
  retryable: boolean;
}

export type ProviderEvent =
  | {
      type: "start";
      model: string;
      /** The answer's text so far, on demand: a consumer that needs the partial text after a cancel keeps no copy of its own. */
      textSoFar?: () => string;
    }
  | { type: "text_delta"; text: string }
  | { type: "thinking_delta"; text: string }
  /** A thinking or redacted_thinking block is complete. */
  | { type: "thinking_end"; block: ThinkingBlock }
  | { type: "toolcall_start"; index: number; id: string; name: string }
  | { type: "toolcall_delta"; index: number; argumentsDelta: string }
  | { type: "toolcall_end"; index: number; call: ToolCall }
  /** Latest known usage of this request (cumulative, replaces earlier ones). */
  | { type: "usage"; usage: Usage }
  | { type: "done"; stopReason: Exclude<StopReason, "error" | "aborted">; message: AssistantMessage; usage: Usage }
  | { type: "error"; stopReason: "error" | "aborted"; error: ProviderError; message: AssistantMessage; usage: Usage };

export interface Provider {
  /** The config name, e.g. "openai" from [provider.openai]. */
  readonly name: string;
  stream(request: ModelRequest, signal?: AbortSignal): AsyncIterable<ProviderEvent>;
  /**
   * Encodes `messages` ahead of a request that will start with them and
   * keeps the JSON for it, so the request itself encodes only what follows
   * (the turn calls this while its question is written and fsynced: the
   * first request after a resume would otherwise encode the whole history
   * after that wait). Optional, and only ever an optimization: a provider
   * that keeps no encoding leaves it out, and a request that does not
   * start with these messages encodes its own.
   */
  prepare?(messages: readonly Message[]): void;
  /**
   * The JSON this provider's requests give the first `count` of `messages`,
   * for the store to keep beside a session's resume checkpoint (see
   * EncodedPrefix). Undefined when it keeps no such encoding.
   */
  exportPrefix?(messages: readonly Message[]): EncodedPrefix | undefined;
  /**
   * Takes a kept prefix back for a resumed history that begins with the
   * messages it was made from (by value: the store checks that), so the
   * first request after a resume encodes only what follows them. False,
   * and nothing kept, when the format is not this provider's or the count
   * does not fit.
   */
  importPrefix?(messages: readonly Message[], prefix: EncodedPrefix): boolean;
  /**
   * Whether a request may carry this kept prefix as its head
   * (ModelRequest.head): its format is this provider's. A provider without
   * it is never sent one.
   */
  takesPrefix?(prefix: EncodedPrefix): boolean;
  /**
   * Gets a kept prefix this provider takes as a head ready for the request
   * that will carry it (decodes its JSON once, as the request would), so
   * the turn can have that done while its question is fsynced rather than
   * after. Optional, and only ever an optimization; nothing for a prefix
   * it does not take.
   */
  prepareHead?(prefix: EncodedPrefix): void;
}

/**
 * A request prefix's encoding, kept on disk: the JSON a provider's request
 * holds for the first `count` messages of a history, exactly as it would
 * encode them. `format` names the provider's wire API and the code that
 * encodes it, so a prefix is only ever taken back by an encoder that
 * would have written the same bytes.
 */
export interface EncodedPrefix {
  format: string;
  count: number;
  /** UTF-8, as it is kept on disk: a provider decodes it when its first request needs it. */
  json: Uint8Array;
}

/**
 * The stream function the agent loop depends on (a seam for tests);
 * `prepare`, `exportPrefix`, `importPrefix`, `takesPrefix` and `prepareHead` route the Provider's by model.
 */
export type StreamFn = ((request: ModelRequest, signal?: AbortSignal) => AsyncIterable<ProviderEvent>) & {
  prepare?(model: string, messages: readonly Message[]): void;
  exportPrefix?(model: string, messages: readonly Message[]): EncodedPrefix | undefined;
  importPrefix?(model: string, messages: readonly Message[], prefix: EncodedPrefix): boolean;
  takesPrefix?(model: string, prefix: EncodedPrefix): boolean;
  prepareHead?(model: string, prefix: EncodedPrefix): void;
};
