/**
 * The `[provider.<name>]` tables of crabtalk.toml, validated into typed
 * ProviderConfig values. Every mistake is a ConfigError naming the file,
 * the key (`provider.<name>.<field>`) and the fix, because a provider that
 * fails later, mid-request, is far harder to diagnose than one refused at
 * start.
 *
 * Contract: `parseProviders(raw, ctx)` takes the value of the top-level
 * `provider` key (undefined means no providers). The result is structurally
 * what src/provider/registry.ts accepts as ProviderSettings; the two folders
 * may not import each other, so the daemon passes one to the other.
 */
import {
  ConfigError,
  describe,
  expandEnv,
  expectNumber,
  expectString,
  expectStringArray,
  isTable,
  rejectUnknownKeys,
  type ConfigContext,
  type Table,
} from "./errors.ts";

export type ProviderKind = "openai" | "anthropic";

export interface ProviderConfig {
  /** The table name: "openai" in [provider.openai]. */
  name: string;
  kind: ProviderKind;
  baseUrl: string;
  /** After ${VAR} expansion; undefined for keyless local servers (Ollama). */
  apiKey?: string;
  models: string[];
  headers: Record<string, string>;
  maxRetries: number;
  /** Wait for response headers. */
  timeoutMs: number;
  /** Wait between body chunks. */
  idleTimeoutMs: number;
  /** Context size per model, for compaction; models not listed are unknown. */
  contextWindow: Record<string, number>;
}

const KINDS: readonly ProviderKind[] = ["openai", "anthropic"];
const KNOWN_KEYS = [
  "kind",
  "base_url",
  "api_key",
  "models",
  "headers",
  "max_retries",
  "timeout_ms",
  "idle_timeout_ms",
  "context_window",
] as const;

const DEFAULT_BASE_URL: Record<ProviderKind, string> = {
  openai: "https://api.openai.com/v1",
  anthropic: "https://api.anthropic.com/v1",
};

/** Two retries ride out a typical rate-limit or overload blip without stalling a turn for long. */
export const DEFAULT_MAX_RETRIES = 2;
/** Headers can take long when a local server loads a model from disk first (Ollama cold start). */
export const DEFAULT_TIMEOUT_MS = 120_000;
/** Reasoning models may think for minutes between chunks without streaming their thoughts. */
export const DEFAULT_IDLE_TIMEOUT_MS = 180_000;
/** More retries than this only hides an outage from the user. */
const MAX_RETRIES_LIMIT = 10;

export function parseProviders(raw: unknown, ctx: ConfigContext): ProviderConfig[] {
  if (raw === undefined) return [];
  if (!isTable(raw)) {
    throw new ConfigError(
      ctx.file,
      "provider",
      `expected tables like [provider.openai], got ${describe(raw)}`,
      "write each provider as its own [provider.<name>] table",
    );
  }
  const out: ProviderConfig[] = [];
  const owner = new Map<string, string>();
  for (const [name, table] of Object.entries(raw)) {
    const config = parseOne(name, table, ctx);
    for (const model of config.models) {
      const other = owner.get(model);
      if (other !== undefined) {
        throw new ConfigError(
          ctx.file,
          `provider.${name}.models`,
          `model "${model}" is already served by [provider.${other}]; a model name must map to exactly one provider`,
          `remove "${model}" from one of the two providers`,
        );
      }
      owner.set(model, name);
    }
    out.push(config);
  }
  return out;
}

function parseOne(name: string, table: unknown, ctx: ConfigContext): ProviderConfig {
  const section = `provider.${name}`;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new ConfigError(
      ctx.file,
      section,
      `provider name "${name}" may only use letters, digits, "_" and "-"`,
      `rename it, e.g. [provider.${name.replace(/[^A-Za-z0-9_-]/g, "_")}]`,
    );
  }
  if (!isTable(table))
    throw new ConfigError(
      ctx.file,
      section,
      `expected a table, got ${describe(table)}`,
      `write it as [${section}] with kind, base_url and models`,
    );
  rejectUnknownKeys(ctx, section, table, KNOWN_KEYS);
  const key = (field: string) => `${section}.${field}`;

  const kindRaw = expectString(
    ctx,
    key("kind"),
    table.kind,
    `set kind = "openai" (any Chat Completions endpoint) or kind = "anthropic"`,
  );
  if (!(KINDS as readonly string[]).includes(kindRaw)) {
    throw new ConfigError(
      ctx.file,
      key("kind"),
      `unknown kind "${kindRaw}"`,
      `use kind = "openai" for OpenAI-compatible Chat Completions endpoints (OpenAI, DeepSeek, OpenRouter, Groq, Ollama, vLLM...) or kind = "anthropic"`,
    );
  }
  const kind = kindRaw as ProviderKind;

  const baseUrl =
    table.base_url === undefined ? DEFAULT_BASE_URL[kind] : parseUrl(ctx, key("base_url"), table.base_url);

  let apiKey: string | undefined;
  if (table.api_key !== undefined) {
    const written = expectString(
      ctx,
      key("api_key"),
      table.api_key,
      `write api_key = "\${ENV_VAR}" to read the key from the environment`,
    );
    apiKey = expandEnv(ctx, key("api_key"), written);
  }

  const models = expectStringArray(
    ctx,
    key("models"),
    table.models,
    `list the model names this provider serves, e.g. models = ["gpt-4o-mini"]`,
  );
  if (models.length === 0)
    throw new ConfigError(
      ctx.file,
      key("models"),
      "the list is empty",
      "list at least one model name this provider serves",
    );
  const seen = new Set<string>();
  for (const model of models) {
    if (model.trim() === "")
      throw new ConfigError(ctx.file, key("models"), "a model name is empty", "remove the empty string");
    if (seen.has(model))
      throw new ConfigError(ctx.file, key("models"), `model "${model}" is listed twice`, "list each model once");
    seen.add(model);
  }

  return {
    name,
    kind,
    baseUrl,
    ...(apiKey !== undefined ? { apiKey } : {}),
    models,
    headers: parseHeaders(ctx, key("headers"), table.headers),
    maxRetries: integer(ctx, key("max_retries"), table.max_retries, DEFAULT_MAX_RETRIES, 0, MAX_RETRIES_LIMIT),
    timeoutMs: integer(ctx, key("timeout_ms"), table.timeout_ms, DEFAULT_TIMEOUT_MS, 1, Number.MAX_SAFE_INTEGER),
    idleTimeoutMs: integer(
      ctx,
      key("idle_timeout_ms"),
      table.idle_timeout_ms,
      DEFAULT_IDLE_TIMEOUT_MS,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    contextWindow: parseContextWindow(ctx, key("context_window"), table.context_window, seen),
  };
}

function parseUrl(ctx: ConfigContext, key: string, value: unknown): string {
  const text = expandEnv(
    ctx,
    key,
    expectString(ctx, key, value, `write the endpoint, e.g. base_url = "https://api.openai.com/v1"`),
  );
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(
      ctx.file,
      key,
      `"${text}" is not a valid URL`,
      `write a full URL with scheme and host, e.g. "http://127.0.0.1:11434/v1"`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(
      ctx.file,
      key,
      `"${text}" must use http or https, not ${url.protocol.replace(":", "")}`,
      `write it as "https://${url.host}${url.pathname}"`,
    );
  }
  return text.replace(/\/+$/, "");
}

function parseHeaders(ctx: ConfigContext, key: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isTable(value))
    throw new ConfigError(
      ctx.file,
      key,
      `expected a table of header names to values, got ${describe(value)}`,
      `write headers = { "HTTP-Referer" = "https://example.com" }`,
    );
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      throw new ConfigError(
        ctx.file,
        key,
        `"${name}" is not a valid header name`,
        "use letters, digits and dashes",
        undefined,
        `${key}.${name}`,
      );
    out[name] = expandEnv(
      ctx,
      `${key}.${name}`,
      expectString(ctx, `${key}.${name}`, v, "write header values as strings"),
    );
  }
  return out;
}

function integer(ctx: ConfigContext, key: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = expectNumber(ctx, key, value, `write a whole number, e.g. ${fallback}`);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(
      ctx.file,
      key,
      `${n} is out of range`,
      `use a whole number from ${min} to ${max === Number.MAX_SAFE_INTEGER ? "any" : max} (default ${fallback})`,
    );
  }
  return n;
}

function parseContextWindow(
  ctx: ConfigContext,
  key: string,
  value: unknown,
  models: Set<string>,
): Record<string, number> {
  if (value === undefined) return {};
  if (!isTable(value))
    throw new ConfigError(
      ctx.file,
      key,
      `expected a table of model names to token counts, got ${describe(value)}`,
      `write context_window = { "gpt-4o" = 128000 }`,
    );
  const out: Record<string, number> = {};
  for (const [model, v] of Object.entries(value as Table)) {
    if (!models.has(model))
      throw new ConfigError(
        ctx.file,
        key,
        `"${model}" is not in this provider's models`,
        `add it to models, or remove it from context_window`,
        undefined,
        `${key}.${model}`,
      );
    out[model] = integer(ctx, `${key}.${model}`, v, 0, 1, Number.MAX_SAFE_INTEGER);
  }
  return out;
}
