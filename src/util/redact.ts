/**
 * Secret redaction: the one place that scrubs API keys and bearer tokens out
 * of text bound for logs, errors or the wire.
 */
const PATTERNS: RegExp[] = [
  /\b(sk-[A-Za-z0-9_-]{8,})/g, // OpenAI-style keys (sk-, sk-proj-, sk-ant-)
  /\b(Bearer\s+)[A-Za-z0-9._-]{8,}/gi,
  /\b(x-api-key["':=\s]+)[A-Za-z0-9._-]{8,}/gi,
];

/** Replaces known secret shapes and every listed literal secret with "***". */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join("***");
  }
  out = out.replace(PATTERNS[0]!, "***");
  out = out.replace(PATTERNS[1]!, "$1***");
  out = out.replace(PATTERNS[2]!, "$1***");
  return out;
}
