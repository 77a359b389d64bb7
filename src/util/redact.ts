/**
 * Secret redaction: the one place that scrubs API keys and bearer tokens out
 * of text bound for logs, errors, the wire, session files and the model.
 *
 * Two layers: known key shapes (sk-…, Bearer …, x-api-key …), and every
 * literal secret value the daemon was configured with. `secretRedactor`
 * turns a list of literal values into the function applied to every tool
 * result (agent/dispatch.ts), so a file or command that prints a configured
 * key never puts it into history, the wire or the next provider request.
 */
const PATTERNS: RegExp[] = [
  /\b(sk-[A-Za-z0-9_-]{8,})/g, // OpenAI-style keys (sk-, sk-proj-, sk-ant-)
  /\b(Bearer\s+)[A-Za-z0-9._-]{8,}/gi,
  /\b(x-api-key["':=\s]+)[A-Za-z0-9._-]{8,}/gi,
];

/** Shorter values would scrub ordinary words out of every text; no real key is this short. */
export const MIN_SECRET_LENGTH = 4;

/** Replaces known secret shapes and every listed literal secret with "***". */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join("***");
  }
  out = out.replace(PATTERNS[0]!, "***");
  out = out.replace(PATTERNS[1]!, "$1***");
  out = out.replace(PATTERNS[2]!, "$1***");
  return out;
}

/** The part of a provider's config that holds secrets (structurally config/providers.ts's ProviderConfig). */
export interface SecretSource {
  /** After ${VAR} expansion, so a key read from the environment is covered too. */
  apiKey?: string;
  /** Every configured header value counts as a secret: headers are where auth tokens go. */
  headers: Record<string, string>;
}

/**
 * Every literal secret in the given provider configs, longest first (so a
 * secret that contains another is replaced whole). Later sources (MCP server
 * or extension env values) are added by concatenating their values before
 * building the redactor.
 */
export function providerSecrets(providers: readonly SecretSource[]): string[] {
  const values = providers.flatMap((p) => [p.apiKey, ...Object.values(p.headers)]);
  const unique = new Set(values.filter((v): v is string => typeof v === "string" && v.length >= MIN_SECRET_LENGTH));
  return [...unique].sort((a, b) => b.length - a.length);
}

/** The redaction applied to tool output: the same as for log lines, with these literal secrets. */
export function secretRedactor(secrets: readonly string[]): (text: string) => string {
  const sorted = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => redact(text, sorted);
}
