/**
 * The Infer capability: an extension asks the daemon for a model answer
 * while it handles a request. The model is the service's `infer_model`, or
 * the model of the agent the request serves, or the first agent's. Tokens
 * are booked under `ext:<name>`, so they count toward usage and the daily
 * budget like any agent's; an exhausted budget refuses the inference.
 */
import type { ServiceConfig } from "../config/services.ts";
import type { SimpleMessage } from "../protocol/gen/ext.ts";
import type { Message } from "../provider/types.ts";
import type { SessionRuntime } from "../session/runtime.ts";

export async function inferFor(
  runtime: SessionRuntime,
  cfg: ServiceConfig,
  messages: readonly SimpleMessage[],
  agent: string | undefined,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<string> {
  const agents = runtime.settings.agents;
  const model = cfg.inferModel ?? (agent ? agents.get(agent)?.model : undefined) ?? agents.values().next().value?.model;
  if (!model) throw new Error("no model: set infer_model in the service's table or configure an agent");
  const left = runtime.usage.remainingToday();
  if (left !== undefined && left <= 0) throw new Error("the daily token budget is spent");
  const system = messages
    .filter((m) => m.role === "system")
    .map((m) => m.content)
    .join("\n\n");
  const history: Message[] = messages
    .filter((m) => m.role !== "system")
    .map((m) =>
      m.role === "assistant" ? { role: "assistant", content: m.content } : { role: "user", content: m.content },
    );
  const stream = runtime.settings.streamFor(model);
  for await (const event of stream({ model, messages: history, ...(system ? { system } : {}) }, signal)) {
    if (event.type === "done") {
      runtime.usage.record(`ext:${cfg.name}`, model, event.usage);
      return event.message.content;
    }
    if (event.type === "error") {
      runtime.usage.record(`ext:${cfg.name}`, model, event.usage);
      say(`inference on ${model} failed: ${event.error.message}`);
      throw new Error(`${model}: ${event.error.message}`);
    }
  }
  throw new Error(`${model}: the stream ended without an answer`);
}
