/**
 * The shapes an extension author writes against: what defineExtension
 * takes (tools with handlers, optional hooks) and what each handler is
 * given. Everything here is plain data; the wire types of ext.proto stay
 * inside the SDK (server.ts translates).
 *
 * Contracts every handler can rely on:
 * - handlers run concurrently (one per request the daemon has in flight);
 * - `ctx.signal` aborts when the daemon shuts the extension down or its
 *   connection closes, so long work should pass it on (fetch, timers);
 * - a handler that throws does not take the extension down: a tool call
 *   answers ExtError with the message (the model reads "service error: ..."),
 *   a ToolFailure answers a tool result marked as an error, a hook answers
 *   ExtError (the daemon logs it and the turn goes on without the hook).
 */

/** One chat message as the daemon exchanges them with extensions (ext.proto SimpleMessage). */
export interface Message {
  role: string;
  content: string;
}

/** A JSON value: what tool arguments and configuration parse to. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** What every handler gets. */
export interface HandlerContext {
  /** The configuration the daemon sent (the service's `config` table), `{}` until it sends one. */
  readonly config: JsonObject;
  /** Aborts when the extension is shutting down or the daemon's connection closed. */
  readonly signal: AbortSignal;
  /**
   * Asks the daemon to run the agent's model on `messages` and resolves
   * with the answer's text. Needs `infer: true` in the definition (the
   * Infer capability); calls within one request are sent one after another.
   */
  infer(messages: Message[]): Promise<string>;
}

/** What a tool handler gets beyond the common context. */
export interface ToolContext extends HandlerContext {
  /** The agent whose turn called the tool. */
  readonly agent: string;
  /** The model's id for this call. */
  readonly callId: string;
  /** The session of the turn (0 when the daemon did not say). */
  readonly session: number;
}

/**
 * Throw this from a tool handler for a failure the model should read as a
 * tool error in its own words ("no results for ..."), without the daemon
 * treating the service as broken.
 */
export class ToolFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolFailure";
  }
}

export interface ToolSpec<Args extends JsonObject = JsonObject> {
  /** Letters, digits, `_` and `-`, at most 64 (what model APIs accept as a function name). */
  name: string;
  description: string;
  /** JSON Schema of the arguments (an object schema); the daemon validates calls against it. */
  parameters: JsonObject;
  /** Returns the result: a string as is, anything else as JSON. */
  handler(args: Args, ctx: ToolContext): unknown;
}

/** The agent being built (ext.proto ExtBuildAgent). */
export interface AgentInfo {
  name: string;
  description: string;
  systemPrompt: string;
  tools: string[];
  skills: string[];
  mcps: string[];
  members: string[];
}

export interface BuildAgentResult {
  /** Appended to the agent's system prompt. */
  promptAddition?: string;
  /** Names of this extension's tools to add to this agent (subject to its grants). */
  tools?: string[];
}

type Awaitable<T> = T | Promise<T>;

export interface ExtensionSpec {
  /** The service name reported in ExtReady. */
  name: string;
  version: string;
  tools?: ToolSpec[];
  /** Declares the Infer capability: handlers may call `ctx.infer`. */
  infer?: boolean;
  /** Called with each ExtConfigure (at start and whenever the config changes); throw to refuse it. */
  configure?(config: JsonObject): Awaitable<void>;
  /** Answers a client's ServiceQuery. */
  query?(query: string, ctx: HandlerContext): Awaitable<string>;
  /** Answers GetServiceSchema: a string as is, anything else as JSON. */
  schema?(ctx: HandlerContext): unknown;
  buildAgent?(agent: AgentInfo, ctx: HandlerContext): Awaitable<BuildAgentResult | undefined>;
  /** Messages injected for this turn only (never written to history). */
  beforeRun?(turn: { agent: string; history: Message[] }, ctx: HandlerContext): Awaitable<Message[] | undefined>;
  afterRun?(turn: { agent: string; history: Message[]; systemPrompt: string }, ctx: HandlerContext): Awaitable<void>;
  /** Text added to the compaction prompt. */
  compact?(turn: { agent: string; prompt: string }, ctx: HandlerContext): Awaitable<string | undefined>;
  afterCompact?(turn: { agent: string; summary: string }, ctx: HandlerContext): Awaitable<void>;
  /** Every event of the agents' turns, fire-and-forget (the daemon does not wait, and drops events when behind). */
  onEvent?(event: { agent: string; event: Json }, ctx: HandlerContext): Awaitable<void>;
}
