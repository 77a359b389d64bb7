/**
 * What the providers' kept request prefixes share (Provider.exportPrefix
 * and importPrefix, used by openai-chat.ts and anthropic.ts): the format
 * that names an encoder, the check a prefix taken back must pass, the
 * decode of one taken back from disk on its first use, and the join of
 * kept JSON with what follows it.
 */
import type { EncodedPrefix, Message } from "./types.ts";

/**
 * The format of an encoder's kept prefixes, computed on first use: `api`
 * names the wire API and the layout of the kept JSON (bump its /N with
 * that layout), then a hash of the text of the functions that encode, so
 * a daemon whose encoding differs (another version) never sends a prefix
 * another one wrote: it encodes the history itself instead.
 */
export function prefixFormat(api: string, ...code: ((...args: never[]) => unknown)[]): () => string {
  let format: string | undefined;
  return () => {
    format ??= `${api}:${Bun.hash(code.map((f) => f.toString()).join("\n")).toString(36)}`;
    return format;
  };
}

/** Whether the encoder of `format` may send `prefix` as a request's head (ModelRequest.head): its own format. */
export function prefixHeads(prefix: EncodedPrefix, format: string): boolean {
  return prefix.format === format && prefix.count >= 1;
}

/** Whether `prefix` may be taken back for `messages` by the encoder of `format`: its own, and a count they hold. */
export function prefixTakes(prefix: EncodedPrefix, format: string, messages: readonly Message[]): boolean {
  return prefixHeads(prefix, format) && prefix.count <= messages.length;
}

/** JSON list items joined by commas, empty parts left out (a kept prefix, a system message, the rest). */
export const joinJson = (...parts: string[]): string => parts.filter((p) => p !== "").join(",");

const utf8 = new TextDecoder();

const headTexts = new WeakMap<EncodedPrefix, string>();

/** A request head's JSON as text, decoded once per prefix (a turn's every request sends it). */
export function headText(prefix: EncodedPrefix): string {
  let text = headTexts.get(prefix);
  if (text === undefined) {
    text = utf8.decode(prefix.json);
    headTexts.set(prefix, text);
  }
  return text;
}

/**
 * The JSON to keep for a prefix taken back: its text when a request already
 * sent it as a head (decoded then), else its bytes, decoded on first use.
 */
export function takenJson(prefix: EncodedPrefix): string | Uint8Array {
  return headTexts.get(prefix) ?? prefix.json;
}

/** A kept entry's JSON, decoded in place on first use when it was taken back from disk as UTF-8. */
export function keptText(kept: { json: string | Uint8Array }): string {
  if (typeof kept.json !== "string") kept.json = utf8.decode(kept.json);
  return kept.json;
}
