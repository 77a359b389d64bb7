/**
 * One turn of a session: publishes its start, appends the user message,
 * drives the agent loop, and turns every loop event into a numbered,
 * traced, published event; history messages are appended as each one
 * completes, usage is booked per model call.
 */
import { runAgent } from "../agent/loop.ts";
import type { Authorization } from "../agent/types.ts";
import type { ToolCall } from "../provider/types.ts";
import type { LiveSession, TurnHandle } from "./live-session.ts";
import type { AgentSpec, SessionRuntime } from "./runtime.ts";
import { loopEventToWire } from "./wire.ts";

/** Events handled between visits to the event loop (see the loop below). */
const YIELD_EVERY = 256;

export async function runTurn(
  runtime: SessionRuntime,
  session: LiveSession,
  spec: AgentSpec,
  turn: TurnHandle,
  content: string,
): Promise<void> {
  const { deps } = runtime;
  const startSeq = session.seq + 1;
  turn.startSeq = startSeq;
  runtime.emit(session, startSeq, { start: { agent: session.agent, session: session.id, sender: turn.sender } });
  const user = { role: "user" as const, content, timestamp: Date.now() };
  session.history.push(user);
  void session.append([{ kind: "message", message: user }]);

  const remaining = deps.usage.remainingToday();
  const perTurn = spec.maxTokensPerTurn;
  const maxTokensPerTurn =
    remaining === undefined ? perTurn : perTurn === undefined ? remaining : Math.min(perTurn, remaining);

  const authorize = async (call: ToolCall, signal: AbortSignal): Promise<Authorization> => {
    const decision = deps.permissions.explain(session.agent, call.name);
    if (decision.permission === "allow") return { allowed: true };
    if (decision.permission === "deny") return { allowed: false, reason: `denied: ${decision.reason}` };
    if (!turn.interactive || !runtime.bus.hasInteractiveClientOn(session.id)) {
      return {
        allowed: false,
        reason: `denied: ${call.name} needs approval (${decision.reason}) but no interactive client is attached to answer (sender ${turn.sender})`,
      };
    }
    runtime.emit(session, startSeq, {
      approval: { callId: call.id, tool: call.name, arguments: call.rawArguments, timeoutMs: deps.approvalTimeoutMs },
    });
    return runtime.approvals.wait(call.id, session.id, deps.approvalTimeoutMs, signal);
  };

  const stream = runAgent(
    {
      agent: session.agent,
      session: session.id,
      model: spec.model,
      system: spec.system,
      history: session.history.slice(),
      tools: spec.tools,
      knownTools: spec.knownTools,
      stream: deps.streamFor(spec.model),
      maxIterations: spec.maxIterations,
      maxTokensPerTurn,
      thinking: spec.thinking,
      authorize,
      ...(deps.redact ? { redact: deps.redact } : {}),
    },
    turn.abort.signal,
  );
  let sinceYield = 0;
  for await (const ev of stream) {
    // A provider read can hold thousands of deltas, all parsed without leaving the microtask queue.
    // Stepping out to the event loop now and then lets client sockets drain between them, so a
    // burst does not pile up in subscribers' buffers; it costs a few microseconds per 256 events.
    if (++sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (ev.type === "message") {
      session.history.push(ev.message);
      void session.append([{ kind: "message", message: ev.message }]);
      continue;
    }
    if (ev.type === "model_end") {
      deps.usage.record(session.agent, ev.model, ev.usage);
      session.lastPromptTokens = ev.usage.promptTokens;
    }
    const wire = loopEventToWire(session.agent, ev);
    if (!wire) continue;
    // The end is published only once the turn is on disk (see emitDurable).
    if (ev.type === "end") await runtime.emitDurable(session, startSeq, wire);
    else runtime.emit(session, startSeq, wire);
  }
  await session.flushTrace();
}
