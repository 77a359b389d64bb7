/**
 * What an extension's capabilities become inside the daemon: its tools as
 * registry Tools, its hooks as RuntimeHooks, its inference requests as
 * model calls. Each is a thin translation onto one ExtClient; the client
 * and the registry/hooks seams do the rest.
 *
 * Failures reach the model as tool results it can read: `service error: …`
 * (the extension answered ExtError), `service timeout: <name>`, and
 * `service unavailable: <name> (<why>)` (down, restarting, crashed mid-call).
 */
import type { Tool, ToolOutput } from "../agent/types.ts";
import type { Capability, SimpleMessage, ToolDef } from "../protocol/gen/ext.ts";
import type { Message } from "../provider/types.ts";
import type { RuntimeHooks } from "../session/hooks.ts";
import type { SessionEvent } from "../session/events.ts";
import { type ExtClient, ServiceError, ServiceTimeout, ServiceUnavailable } from "./client.ts";

/** Capability names as status reports them (the ext.proto field names). */
export function capabilityNames(caps: readonly Capability[]): string[] {
  const names: Record<string, string> = {
    tools: "tools",
    query: "query",
    buildAgent: "build_agent",
    beforeRun: "before_run",
    compact: "compact",
    eventObserver: "event_observer",
    afterRun: "after_run",
    infer: "infer",
    afterCompact: "after_compact",
  };
  return caps.map((c) => (c.cap ? (names[c.cap] ?? c.cap) : "unknown"));
}

/** A ToolDef's parameters: the JSON Schema bytes, or a permissive object schema when there are none. */
function parametersOf(def: ToolDef): Record<string, unknown> {
  if (!def.parameters || def.parameters.byteLength === 0) return { type: "object" };
  const parsed: unknown = JSON.parse(new TextDecoder().decode(def.parameters));
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error(`tool ${def.name}: parameters are not a JSON Schema object`);
  return parsed as Record<string, unknown>;
}

/** The extension's tool definitions as Tools; a definition whose schema is not JSON is skipped and reported. */
export function toolsFrom(
  service: string,
  defs: readonly ToolDef[],
  client: ExtClient,
  timeoutMs: number,
): { tools: Tool[]; invalid: string[] } {
  const tools: Tool[] = [];
  const invalid: string[] = [];
  for (const def of defs) {
    let parameters: Record<string, unknown>;
    try {
      parameters = parametersOf(def);
    } catch (err) {
      invalid.push(`${def.name}: ${(err as Error).message}`);
      continue;
    }
    tools.push({
      name: def.name,
      description: def.description,
      parameters,
      async execute(args, ctx): Promise<ToolOutput> {
        try {
          const reply = await client.call(
            {
              toolCall: {
                name: def.name,
                args: JSON.stringify(args),
                agent: ctx.agent,
                callId: ctx.callId,
                session: ctx.session,
              },
            },
            { timeoutMs, signal: ctx.signal, agent: ctx.agent },
          );
          if (reply.msg !== "toolResult")
            return {
              output: `service error: ${service} answered ${reply.msg ?? "nothing"} to a tool call`,
              isError: true,
            };
          return { output: reply.toolResult?.result ?? "", isError: reply.toolResult?.isError === true };
        } catch (err) {
          return { output: failureText(service, err), isError: true };
        }
      },
    });
  }
  return { tools, invalid };
}

/** What the model reads when a call through the extension failed. */
export function failureText(service: string, err: unknown): string {
  if (err instanceof ServiceError) return `service error: ${err.message}`;
  if (err instanceof ServiceTimeout) return `service timeout: ${service}`;
  if (err instanceof ServiceUnavailable) return err.message;
  return `service unavailable: ${service} (${err instanceof Error ? err.message : String(err)})`;
}

export function simple(history: readonly Message[]): SimpleMessage[] {
  return history.map((m) => ({ role: m.role, content: m.content }));
}

function fromSimple(messages: readonly SimpleMessage[]): Message[] {
  return messages.map((m) =>
    m.role === "assistant" ? { role: "assistant", content: m.content } : { role: "user", content: m.content },
  );
}

/** An unexpected reply kind to a hook call, as the error the hook fails with. */
function expect(kind: string, got: string | undefined): Error {
  return new ServiceError(`answered ${got ?? "nothing"} where ${kind} was expected`);
}

export interface HookContext {
  service: string;
  client: ExtClient;
  timeoutMs: number;
  capabilities: ReadonlySet<string>;
  /** Tools an agent-build hook returns, turned into Tools on the same client. */
  tools(defs: readonly ToolDef[]): Tool[];
}

/** The RuntimeHooks of one running extension: only the capabilities it declared. */
export function hooksFrom(h: HookContext): RuntimeHooks {
  const { client, timeoutMs, capabilities: caps } = h;
  const call = (message: Parameters<ExtClient["call"]>[0], signal: AbortSignal, agent?: string) =>
    client.call(message, { timeoutMs, signal, ...(agent !== undefined ? { agent } : {}) });
  const hooks: RuntimeHooks = { name: `ext:${h.service}`, source: { kind: "extension", name: h.service }, timeoutMs };
  if (caps.has("build_agent"))
    hooks.buildAgent = async (agent, signal) => {
      const r = await call(
        {
          buildAgent: {
            name: agent.name,
            description: agent.description ?? "",
            systemPrompt: agent.systemPrompt ?? "",
            tools: [...agent.tools],
          },
        },
        signal,
        agent.name,
      );
      if (r.msg !== "buildAgentResult") throw expect("ExtBuildAgentResult", r.msg);
      return {
        promptAddition: r.buildAgentResult?.promptAddition ?? "",
        tools: h.tools(r.buildAgentResult?.tools ?? []),
      };
    };
  if (caps.has("before_run"))
    hooks.beforeRun = async (turn, signal) => {
      const r = await call({ beforeRun: { agent: turn.agent, history: simple(turn.history) } }, signal, turn.agent);
      if (r.msg !== "beforeRunResult") throw expect("ExtBeforeRunResult", r.msg);
      return fromSimple(r.beforeRunResult?.messages ?? []);
    };
  if (caps.has("after_run"))
    hooks.afterRun = async (turn, signal) => {
      const r = await call(
        { afterRun: { agent: turn.agent, history: simple(turn.history), systemPrompt: turn.system ?? "" } },
        signal,
        turn.agent,
      );
      if (r.msg !== "afterRunResult") throw expect("ExtAfterRunResult", r.msg);
    };
  if (caps.has("compact"))
    hooks.compactionPrompt = async (input, signal) => {
      const r = await call({ compact: { agent: input.agent, prompt: "" } }, signal, input.agent);
      if (r.msg !== "compactResult") throw expect("ExtCompactResult", r.msg);
      return r.compactResult?.addition ?? "";
    };
  if (caps.has("after_compact"))
    hooks.afterCompact = async (input, signal) => {
      const r = await call({ afterCompact: { agent: input.agent, summary: input.summary } }, signal, input.agent);
      if (r.msg !== "afterCompactResult") throw expect("ExtAfterCompactResult", r.msg);
    };
  if (caps.has("event_observer"))
    hooks.observe = (event: SessionEvent) =>
      client.notify({
        event: {
          agent: event.agent,
          event: JSON.stringify({
            session: event.session,
            seq: event.seq,
            turn: event.turn,
            ts: event.ts,
            kind: event.body.kind,
            data: event.body.data,
          }),
        },
      });
  return hooks;
}
