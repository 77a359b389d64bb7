/**
 * The crabtalk.toml written on first start when none exists. It picks the
 * provider the user can use right now: OpenAI when OPENAI_API_KEY is set,
 * else Anthropic when ANTHROPIC_API_KEY is set, else a local Ollama. Keys
 * are written as ${VAR} references, never as values, so the file is safe
 * to share and follows key rotation. `picked` is the one line the daemon
 * prints so the user knows which model will answer.
 */

/** The Anthropic model the default config names: a current Claude Sonnet. */
export const DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-5";
export const DEFAULT_OPENAI_MODEL = "gpt-4o-mini";
export const DEFAULT_OLLAMA_MODEL = "qwen2.5:7b";
export const OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1";

export interface DefaultConfig {
  text: string;
  picked: string;
  /** The model the example agent uses. */
  model: string;
}

const ANTHROPIC_EXAMPLE = `# [provider.anthropic]
# kind = "anthropic"
# api_key = "\${ANTHROPIC_API_KEY}"
# models = ["${DEFAULT_ANTHROPIC_MODEL}"]
`;
const OPENAI_EXAMPLE = `# [provider.openai]
# kind = "openai"
# api_key = "\${OPENAI_API_KEY}"
# models = ["${DEFAULT_OPENAI_MODEL}"]
`;

const isSet = (v: string | undefined): boolean => v !== undefined && v.trim() !== "";

export function defaultConfig(env: Record<string, string | undefined>): DefaultConfig {
  let provider: string;
  let model: string;
  let picked: string;
  if (isSet(env.OPENAI_API_KEY)) {
    model = DEFAULT_OPENAI_MODEL;
    picked = `OpenAI (${model}), using OPENAI_API_KEY from the environment`;
    provider = `[provider.openai]
kind = "openai"                        # any OpenAI-compatible Chat Completions endpoint
base_url = "https://api.openai.com/v1"
api_key = "\${OPENAI_API_KEY}"          # read from the environment at start
models = ["${model}"]  # model names route requests to this provider
`;
  } else if (isSet(env.ANTHROPIC_API_KEY)) {
    model = DEFAULT_ANTHROPIC_MODEL;
    picked = `Anthropic (${model}), using ANTHROPIC_API_KEY from the environment`;
    provider = `[provider.anthropic]
kind = "anthropic"                     # the Anthropic Messages API
base_url = "https://api.anthropic.com/v1"
api_key = "\${ANTHROPIC_API_KEY}"       # read from the environment at start
models = ["${model}"]  # model names route requests to this provider
`;
  } else {
    model = DEFAULT_OLLAMA_MODEL;
    picked = `local Ollama at ${OLLAMA_BASE_URL} (${model}); no OPENAI_API_KEY or ANTHROPIC_API_KEY was set`;
    provider = `[provider.local]
kind = "openai"                        # Ollama speaks the Chat Completions API
base_url = "${OLLAMA_BASE_URL}"
models = ["${model}"]  # run \`ollama pull ${model}\` first; no key needed
`;
  }

  const text = `# crabtalk.toml: written by the daemon on first start. Edit freely; the
# daemon reads it on start and on reload.
# Picked: ${picked}.

# Daemon settings (socket, TCP port, logging); the defaults work. Each
# commented block below is a valid example: remove its "# " to use it.
# [daemon]
# tcp = "127.0.0.1:6688"

# A provider serves the models it lists. Add more [provider.<name>] tables for
# more endpoints; each model name must belong to exactly one provider.
# Optional keys: headers = { ... }, max_retries = 2, timeout_ms = 120000,
# idle_timeout_ms = 180000, context_window = { "${model}" = 128000 }
${provider}
# Other endpoints, for reference:
${provider.startsWith("[provider.anthropic]") ? OPENAI_EXAMPLE : ANTHROPIC_EXAMPLE}#
# [provider.deepseek]
# kind = "openai"
# base_url = "https://api.deepseek.com/v1"
# api_key = "\${DEEPSEEK_API_KEY}"
# models = ["deepseek-chat", "deepseek-reasoner"]

# An agent: a model plus a system prompt and tools.
# [agents.crab]
# model = "${model}"
# system_prompt = "You are crab, a concise and careful assistant."
`;
  return { text, picked, model };
}
