/**
 * The request prefix kept beside a view checkpoint (checkpoint.ts):
 * `<id>.jsonl.prefix`, the JSON the session's provider sends for the
 * history a resume from that view starts with, so the first request after
 * the resume encodes only the messages after it (for a long
 * never-compacted session that encoding was about a millisecond on the
 * resume's path). The checkpoint's header names the file by its length
 * and sum (PrefixHeader); the file is written before the checkpoint, so a
 * crash between the two leaves a header that does not name its bytes. A
 * file that does not match what its checkpoint names (that crash, damage)
 * is ignored; the view is still used. The resume never waits for the file
 * (ResumedSession.requestPrefix is a promise).
 */
import { rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { EncodedPrefix, Message } from "../provider/types.ts";
import { pairToolResults, summaryMessage, type ViewState } from "./fold.ts";
import { writeAtomic } from "./jsonl-files.ts";
import type { ResumedSession } from "./types.ts";

/**
 * Gives the JSON a request of `agent`'s provider holds for `history` (see
 * EncodedPrefix), or undefined when it keeps none (an agent or model no
 * longer configured, a provider without prefixes). Called when a view
 * checkpoint is written, with the history a resume from it starts with.
 */
export type RequestPrefixEncoder = (agent: string, history: readonly Message[]) => EncodedPrefix | undefined;

/** What a view checkpoint's header says of its prefix file: the prefix's format and message count, the file's length and sum. */
export interface PrefixHeader {
  format: string;
  count: number;
  bytes: number;
  sum: string;
}

export function prefixPath(sessionPath: string): string {
  return `${sessionPath}.prefix`;
}

const prefixSum = (bytes: Uint8Array): string => Bun.hash(bytes).toString(16);

export const isPrefixHeader = (p: PrefixHeader | undefined): boolean =>
  typeof p === "object" &&
  p !== null &&
  typeof p.format === "string" &&
  Number.isSafeInteger(p.count) &&
  p.count >= 1 &&
  Number.isSafeInteger(p.bytes) &&
  p.bytes >= 0 &&
  typeof p.sum === "string";

/** The header's words for `prefix`, whose file holds prefix.json. */
export function prefixHeader(prefix: EncodedPrefix): PrefixHeader {
  return { format: prefix.format, count: prefix.count, bytes: prefix.json.length, sum: prefixSum(prefix.json) };
}

/**
 * The request prefix a view header names, when `bytes` (its file, read
 * alongside) is it: same length and sum. Not decoded here: the provider
 * decodes it while the turn's question is fsynced (see EncodedPrefix).
 */
export function checkPrefix(p: PrefixHeader, bytes: Uint8Array | undefined): EncodedPrefix | undefined {
  if (!bytes || bytes.length !== p.bytes || prefixSum(bytes) !== p.sum) return undefined;
  return { format: p.format, count: p.count, json: bytes };
}

/** The prefix file's bytes, or undefined when it cannot be read (never rejects). */
export function readPrefixBytes(sessionPath: string): Promise<Uint8Array | undefined> {
  return Bun.file(prefixPath(sessionPath))
    .bytes()
    .catch(() => undefined);
}

/**
 * The prefix a view checkpoint about to be written keeps: `encode`'s for
 * the history a resume from `state` starts with, or undefined (no history,
 * one pairToolResults would change, an encoder that keeps none or throws:
 * the prefix is only ever an optimization).
 */
export function encodeViewPrefix(
  encode: RequestPrefixEncoder,
  agent: string,
  state: ViewState,
): EncodedPrefix | undefined {
  const history = viewHistory(state);
  if (!history || history.length === 0) return undefined;
  try {
    return encode(agent, history);
  } catch {
    return undefined;
  }
}

/** Writes the prefix file (before its checkpoint), or removes a stale one when there is none; best effort. */
export async function writePrefixFile(sessionPath: string, prefix: EncodedPrefix | undefined): Promise<void> {
  const written = prefix
    ? writeAtomic(dirname(sessionPath), prefixPath(sessionPath), prefix.json, false)
    : rm(prefixPath(sessionPath), { force: true });
  await written.catch(() => undefined);
}

export async function removePrefixFile(sessionPath: string): Promise<void> {
  await rm(prefixPath(sessionPath), { force: true });
  await rm(`${prefixPath(sessionPath)}.tmp`, { force: true });
}

/**
 * The history a resume from `state` starts with, when it is [the
 * compaction's summary, ...kept] unchanged by pairToolResults (else
 * undefined: a request prefix is kept only for a history that is the
 * view's messages as they are).
 */
function viewHistory(state: ViewState): Message[] | undefined {
  const c = state.compaction;
  const history = c ? [summaryMessage(c.summary, c.ts), ...state.kept] : state.kept;
  const paired = pairToolResults(history);
  if (paired.length !== history.length) return undefined;
  for (let i = 0; i < history.length; i++) if (paired[i] !== history[i]) return undefined;
  return history;
}

/**
 * Whether `session`'s messages (a resumed history) begin with the view's
 * history a prefix of `count` messages was made from: the same compaction
 * object (none after the view), and the view's kept messages, object for
 * object, after its summary. Those are decoded from the same sealed file,
 * so they equal what was encoded. `view.kept` may have grown by the tail's
 * messages since; `keptCount` is how many the checkpoint held.
 */
export function prefixFits(
  count: number,
  view: { compaction?: ViewState["compaction"]; kept: readonly Message[]; keptCount: number },
  session: ResumedSession,
): boolean {
  const skip = view.compaction ? 1 : 0;
  if (session.compaction !== view.compaction || count > session.messages.length) return false;
  if (count - skip > view.keptCount) return false;
  for (let i = skip; i < count; i++) if (session.messages[i] !== view.kept[i - skip]) return false;
  return true;
}
