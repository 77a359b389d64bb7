/**
 * Builds one Provider per configured `[provider.<name>]` table and routes a
 * request to the provider that serves its model. The settings type mirrors
 * src/config/providers.ts ProviderConfig field for field (the folders may
 * not import each other); the daemon hands one to the other.
 *
 * Contract: `providerFor` throws UnknownModelError, for callers that check
 * before starting a turn; `stream` (the agent's StreamFn) never throws and
 * reports an unknown model as a terminal error event instead.
 */
import { EventStream } from "../util/event-stream.ts";
import { createAnthropicProvider } from "./anthropic.ts";
import type { HttpLog } from "./http.ts";
import { createOpenAIChatProvider } from "./openai-chat.ts";
import {
  emptyUsage,
  type EncodedPrefix,
  type Message,
  type ModelRequest,
  type Provider,
  type ProviderEvent,
  type StreamFn,
} from "./types.ts";

export interface ProviderSettings {
  name: string;
  kind: "openai" | "anthropic";
  baseUrl: string;
  apiKey?: string;
  models: string[];
  headers: Record<string, string>;
  maxRetries: number;
  timeoutMs: number;
  idleTimeoutMs: number;
  contextWindow: Record<string, number>;
}

export interface RegistryOptions {
  /** Backoff base for retries; tests inject a few ms. */
  backoffBaseMs?: number;
  log?: HttpLog;
}

export class UnknownModelError extends Error {
  constructor(
    readonly model: string,
    readonly known: readonly string[],
  ) {
    super(
      known.length === 0
        ? `unknown model "${model}": no providers are configured. Add a [provider.<name>] table with models = ["${model}"] to crabtalk.toml`
        : `unknown model "${model}": configured models are ${known.join(", ")}. Use one of them, or add "${model}" to the models of a [provider.<name>] table in crabtalk.toml`,
    );
    this.name = "UnknownModelError";
  }
}

export class ProviderRegistry {
  private readonly byModel = new Map<string, Provider>();
  private readonly windows = new Map<string, number>();
  readonly providers: Provider[] = [];

  constructor(settings: readonly ProviderSettings[], options: RegistryOptions = {}) {
    for (const s of settings) {
      const provider = buildProvider(s, options);
      this.providers.push(provider);
      for (const model of s.models) this.byModel.set(model, provider);
      for (const [model, tokens] of Object.entries(s.contextWindow)) this.windows.set(model, tokens);
    }
  }

  /** Every routable model name, in config order. */
  models(): string[] {
    return [...this.byModel.keys()];
  }

  providerFor(model: string): Provider {
    const provider = this.byModel.get(model);
    if (!provider) throw new UnknownModelError(model, this.models());
    return provider;
  }

  contextWindow(model: string): number | undefined {
    return this.windows.get(model);
  }

  /** The StreamFn the agent loop uses: routes by request.model (and the prefix helpers by their model). */
  readonly stream: StreamFn = Object.assign(
    (request: ModelRequest, signal?: AbortSignal): AsyncIterable<ProviderEvent> => this.route(request, signal),
    {
      prepare: (model: string, messages: readonly Message[]) => this.byModel.get(model)?.prepare?.(messages),
      exportPrefix: (model: string, messages: readonly Message[]) => this.byModel.get(model)?.exportPrefix?.(messages),
      importPrefix: (model: string, messages: readonly Message[], prefix: EncodedPrefix) =>
        this.byModel.get(model)?.importPrefix?.(messages, prefix) ?? false,
      takesPrefix: (model: string, prefix: EncodedPrefix) => this.byModel.get(model)?.takesPrefix?.(prefix) ?? false,
      prepareHead: (model: string, prefix: EncodedPrefix) => this.byModel.get(model)?.prepareHead?.(prefix),
    },
  );

  private route(request: ModelRequest, signal?: AbortSignal): AsyncIterable<ProviderEvent> {
    const provider = this.byModel.get(request.model);
    if (provider) return provider.stream(request, signal);
    const out = new EventStream<ProviderEvent>();
    const usage = emptyUsage();
    out.push({
      type: "error",
      stopReason: "error",
      error: {
        message: new UnknownModelError(request.model, this.models()).message,
        code: "unknown_model",
        retryable: false,
      },
      message: {
        role: "assistant",
        content: "",
        model: request.model,
        stopReason: "error",
        usage,
        timestamp: Date.now(),
      },
      usage,
    });
    out.end();
    return out;
  }
}

export function buildProvider(s: ProviderSettings, options: RegistryOptions = {}): Provider {
  // Header values are secrets when their name says so (Authorization, api-key, X-Token...).
  const secretHeaders = Object.entries(s.headers)
    .filter(([name]) => /auth|key|token|secret/i.test(name))
    .map(([, v]) => v);
  const secrets = [s.apiKey, ...secretHeaders].filter((v): v is string => typeof v === "string" && v.length >= 4);
  const http = {
    maxRetries: s.maxRetries,
    firstByteTimeoutMs: s.timeoutMs,
    idleTimeoutMs: s.idleTimeoutMs,
    secrets,
    ...(options.backoffBaseMs !== undefined ? { backoffBaseMs: options.backoffBaseMs } : {}),
    ...(options.log ? { log: options.log } : {}),
  };
  const common = {
    name: s.name,
    baseUrl: s.baseUrl,
    headers: s.headers,
    http,
    ...(s.apiKey ? { apiKey: s.apiKey } : {}),
  };
  return s.kind === "anthropic" ? createAnthropicProvider(common) : createOpenAIChatProvider(common);
}
