/**
 * One daemon connection's requests, answered by an extension definition.
 *
 * Contract (proto/ext.proto, request_id = 100):
 * - every request runs at once, concurrently with the others, and its final
 *   response echoes its request_id (none when the request carried none: a
 *   daemon that sends no ids sends one request at a time);
 * - while a request is handled, `ctx.infer` sends ExtResponse{infer_request}
 *   under that request's id and waits for ExtRequest{infer_result} with the
 *   same id; one request's inferences go one after another, because the
 *   result names only the request;
 * - ExtEvent gets no response; ExtShutdown is the owner's (onShutdown);
 * - a throwing handler answers ExtError (a ToolFailure: an is_error tool
 *   result) and never ends the connection.
 */
import type { Init } from "../../protocol/codec.ts";
import type { ExtRequest, ExtResponse, SimpleMessage } from "../../protocol/gen/ext.ts";
import { capabilitiesOf, toolDef } from "./spec.ts";
import {
  type ExtensionSpec,
  type HandlerContext,
  type Json,
  type JsonObject,
  type Message,
  type ToolContext,
  ToolFailure,
} from "./types.ts";

/**
 * Requests handled at once. The daemon's own channel allows 256 in flight per
 * extension; past this the daemon is misbehaving, and an error reply costs
 * less than an unbounded pile of handlers.
 */
const MAX_IN_FLIGHT = 1024;
/**
 * Events waiting for a slow onEvent. Events are fire-and-forget, so an
 * observer that falls this far behind loses the newest ones (counted and
 * logged) rather than growing without bound.
 */
const MAX_QUEUED_EVENTS = 1024;

type Reply = Init<ExtResponse>;

/** A request the SDK itself cannot serve (unknown tool, bad arguments): logged without a stack, which would show only SDK frames. */
class RequestError extends Error {}
type RequestId = number | bigint | undefined;

interface InferWaiter {
  resolve(content: string): void;
  reject(err: Error): void;
}

export class Dispatcher {
  private config: JsonObject = {};
  private readonly abort = new AbortController();
  private inFlight = 0;
  private readonly inferWaiters = new Map<string, InferWaiter>();
  private readonly inferTails = new Map<string, Promise<unknown>>();
  private readonly events: ExtRequest["event"][] = [];
  private eventsRunning = false;
  private droppedEvents = 0;

  constructor(
    private readonly spec: ExtensionSpec,
    private readonly send: (reply: Reply) => void,
    private readonly onShutdown: () => void,
  ) {}

  /** Aborts every handler's signal and fails every pending inference (the connection is gone). */
  close(reason: string): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort(new Error(reason));
    const waiters = [...this.inferWaiters.values()];
    this.inferWaiters.clear();
    for (const w of waiters) w.reject(new Error(`inference abandoned: ${reason}`));
  }

  handle(req: ExtRequest): void {
    const id = req.requestId || undefined;
    switch (req.msg) {
      case "shutdown":
        this.onShutdown();
        return;
      case "event":
        this.queueEvent(req.event);
        return;
      case "inferResult": {
        const waiter = this.inferWaiters.get(keyOf(id));
        if (!waiter) {
          log(
            this.spec,
            `dropped an infer_result for request ${String(id ?? "(none)")}: no inference is waiting for it`,
          );
          return;
        }
        this.inferWaiters.delete(keyOf(id));
        waiter.resolve(req.inferResult?.content ?? "");
        return;
      }
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.reply(id, { error: { message: `${this.spec.name} is busy: ${MAX_IN_FLIGHT} requests already in flight` } });
      return;
    }
    this.inFlight++;
    const state = { done: false };
    this.answer(req, this.context(id, state))
      .catch((err: unknown): Reply => {
        // A ToolFailure is a tool's answer; thrown from a hook it is an error like any other.
        if (err instanceof ToolFailure && req.msg === "toolCall")
          return { toolResult: { result: err.message, isError: true } };
        log(this.spec, `${describe(req)} failed: ${errorText(err, !(err instanceof RequestError))}`);
        return { error: { message: errorText(err, false) } };
      })
      .then((reply) => {
        state.done = true;
        this.inFlight--;
        this.inferTails.delete(keyOf(id));
        const orphan = this.inferWaiters.get(keyOf(id));
        this.inferWaiters.delete(keyOf(id));
        orphan?.reject(new Error("the request was answered before its inference came back"));
        this.reply(id, reply);
      });
  }

  private reply(id: RequestId, reply: Reply): void {
    this.send(id === undefined ? reply : { ...reply, requestId: id });
  }

  /** `state` null: no request to carry inferences (events get no response). */
  private context(id: RequestId, state: { done: boolean } | null): HandlerContext {
    const dispatcher = this;
    return {
      get config() {
        return dispatcher.config;
      },
      signal: this.abort.signal,
      infer: (messages) => {
        if (!state) return Promise.reject(new Error("ctx.infer is not available in onEvent: events get no response"));
        if (state.done) return Promise.reject(new Error("ctx.infer was called after its request was answered"));
        return this.infer(id, messages);
      },
    };
  }

  private async answer(req: ExtRequest, ctx: HandlerContext): Promise<Reply> {
    const spec = this.spec;
    switch (req.msg) {
      case "hello":
        return { ready: { version: spec.version, service: spec.name, capabilities: capabilitiesOf(spec) } };
      case "configure": {
        const config = parseObject(req.configure?.config ?? "", "the service's config");
        await spec.configure?.(config);
        this.config = config;
        return { configured: {} };
      }
      case "registerTools":
        return { toolSchemas: { tools: (spec.tools ?? []).map(toolDef) } };
      case "toolCall":
        return { toolResult: { result: await this.callTool(req.toolCall!, ctx) } };
      case "serviceQuery":
        if (!spec.query) throw new RequestError(`${spec.name} answers no queries (it defines no query handler)`);
        return { serviceQueryResult: { result: await spec.query(req.serviceQuery?.query ?? "", ctx) } };
      case "getSchema":
        if (!spec.schema) throw new RequestError(`${spec.name} has no schema (it defines no schema handler)`);
        return { schemaResult: { schema: asText(await spec.schema(ctx)) } };
      case "buildAgent": {
        const { name, description, systemPrompt, tools, skills, mcps, members } = req.buildAgent!;
        const agent = { name, description, systemPrompt, tools, skills, mcps, members };
        const built = await spec.buildAgent?.(agent, ctx);
        return {
          buildAgentResult: { promptAddition: built?.promptAddition ?? "", tools: this.toolDefs(built?.tools ?? []) },
        };
      }
      case "beforeRun": {
        const turn = { agent: req.beforeRun?.agent ?? "", history: messages(req.beforeRun?.history) };
        const injected = (await spec.beforeRun?.(turn, ctx)) ?? [];
        return { beforeRunResult: { messages: injected.map((m) => ({ role: m.role, content: m.content })) } };
      }
      case "afterRun": {
        const r = req.afterRun!;
        await spec.afterRun?.({ agent: r.agent, history: messages(r.history), systemPrompt: r.systemPrompt }, ctx);
        return { afterRunResult: {} };
      }
      case "compact": {
        const addition = await spec.compact?.(
          { agent: req.compact?.agent ?? "", prompt: req.compact?.prompt ?? "" },
          ctx,
        );
        return { compactResult: { addition: addition ?? "" } };
      }
      case "afterCompact":
        await spec.afterCompact?.(
          { agent: req.afterCompact?.agent ?? "", summary: req.afterCompact?.summary ?? "" },
          ctx,
        );
        return { afterCompactResult: {} };
      default:
        throw new RequestError(
          `${spec.name} does not know the request ${req.msg ?? "(empty)"}; is the SDK older than the daemon?`,
        );
    }
  }

  private async callTool(call: NonNullable<ExtRequest["toolCall"]>, ctx: HandlerContext): Promise<string> {
    const tool = (this.spec.tools ?? []).find((t) => t.name === call.name);
    if (!tool) {
      const known = (this.spec.tools ?? []).map((t) => t.name).join(", ") || "none";
      throw new RequestError(`${this.spec.name} has no tool ${JSON.stringify(call.name)} (its tools: ${known})`);
    }
    const args = parseObject(call.args, `the arguments of ${call.name}`);
    const toolCtx: ToolContext = Object.assign(Object.create(ctx) as HandlerContext, {
      agent: call.agent,
      callId: call.callId,
      session: call.session,
    });
    return asText(await tool.handler(args, toolCtx));
  }

  private toolDefs(names: string[]) {
    return names.map((name) => {
      const tool = (this.spec.tools ?? []).find((t) => t.name === name);
      if (!tool)
        throw new RequestError(
          `buildAgent named tool ${JSON.stringify(name)}, which ${this.spec.name} does not define`,
        );
      return toolDef(tool);
    });
  }

  private infer(id: RequestId, msgs: Message[]): Promise<string> {
    if (!this.spec.infer)
      return Promise.reject(new Error(`${this.spec.name} calls ctx.infer; declare \`infer: true\` in defineExtension`));
    const key = keyOf(id);
    const previous = this.inferTails.get(key) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(
        () =>
          new Promise<string>((resolve, reject) => {
            if (this.abort.signal.aborted) return reject(new Error("inference abandoned: the extension is stopping"));
            this.inferWaiters.set(key, { resolve, reject });
            this.reply(id, { inferRequest: { messages: msgs.map((m) => ({ role: m.role, content: m.content })) } });
          }),
      );
    this.inferTails.set(key, next);
    return next;
  }

  private queueEvent(event: ExtRequest["event"]): void {
    if (!this.spec.onEvent) return;
    if (this.events.length >= MAX_QUEUED_EVENTS) {
      if (this.droppedEvents++ % 1000 === 0)
        log(this.spec, `onEvent is behind: dropped ${this.droppedEvents} event(s) so far`);
      return;
    }
    this.events.push(event);
    if (!this.eventsRunning) void this.drainEvents();
  }

  /** Events in arrival order, one at a time: an observer sees them as they happened. */
  private async drainEvents(): Promise<void> {
    this.eventsRunning = true;
    const ctx = this.context(undefined, null);
    for (let e = this.events.shift(); e !== undefined; e = this.events.shift()) {
      try {
        await this.spec.onEvent?.({ agent: e.agent, event: parseJson(e.event) }, ctx);
      } catch (err) {
        log(this.spec, `onEvent failed: ${errorText(err, true)}`);
      }
    }
    this.eventsRunning = false;
  }
}

function keyOf(id: RequestId): string {
  return id === undefined ? "" : String(id);
}

function messages(list: SimpleMessage[] | undefined): Message[] {
  return (list ?? []).map((m) => ({ role: m.role, content: m.content }));
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

function parseObject(text: string, what: string): JsonObject {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new RequestError(`${what}: not JSON (${(err as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new RequestError(`${what}: must be a JSON object, got ${Array.isArray(value) ? "an array" : typeof value}`);
  return value as JsonObject;
}

function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  return JSON.stringify(value);
}

function errorText(err: unknown, stack: boolean): string {
  if (!(err instanceof Error)) return String(err);
  return stack ? (err.stack ?? err.message) : err.message;
}

function describe(req: ExtRequest): string {
  return req.msg === "toolCall" ? `tool ${req.toolCall?.name}` : (req.msg ?? "request");
}

/** Extension logs go to stderr, which the daemon writes to logs/<name>.log. */
export function log(spec: ExtensionSpec, line: string): void {
  process.stderr.write(`[${spec.name}] ${line}\n`);
}
