/**
 * The encoding of the messages a view checkpoint keeps (checkpoint.ts):
 * columns of numbers, a table of repeated strings, and every message's
 * text laid end to end in one string. Decoding cuts each message's
 * strings out of that one string and builds plain objects with literals,
 * about a fifth of the time JSON.parse takes on the same messages: the
 * parse allocated every string on its own and was most of the time a
 * resume of a long never-compacted session spent before its request.
 *
 * Exact: decode(encode(m)) equals m for every message. A message whose
 * shape the columns do not cover (tool calls, thinking, unknown fields, a
 * string that is not well-formed UTF-16 and so cannot be written as
 * UTF-8) is kept whole as JSON in `other`, in its place. Decoding checks
 * every count, index and length and returns undefined on any mismatch
 * (the caller then folds the log instead).
 *
 * The text's pieces are substrings of one string, so they keep it alive
 * together: the history holds every one of them anyway, and a compaction's
 * kept messages hold at most the text of the history it replaced, until
 * the session is released or resumed again.
 */
import type { AssistantMessage, Message, ToolResultMessage, Usage, UserMessage } from "../provider/types.ts";

/** A message's kind in the columns, times 16, plus its field bits. */
const USER = 0;
const ASSISTANT = 1;
const TOOL = 2;
const OTHER = 3;

const HAS_TIMESTAMP = 1;
const HAS_MODEL = 2;
const HAS_STOP = 4;
const HAS_USAGE = 8;
/** For a tool result: isError is true. */
const IS_ERROR = 2;

const USAGE_KEYS = ["promptTokens", "completionTokens", "cacheReadTokens", "cacheWriteTokens", "reasoningTokens"];

export interface EncodedMessages {
  /** Per message: kind × 16 + bits, then the lengths and numbers its kind has (stored as float64, see checkpoint.ts). */
  columns: ArrayLike<number>;
  /** Models and stop reasons, by index. */
  strings: string[];
  /** Messages kept whole, in order (one per OTHER column entry). */
  other: Message[];
  /** Every column-encoded string, end to end. */
  text: string;
}

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isText = (v: unknown): v is string => typeof v === "string" && v.isWellFormed();

/** Own keys all in `allowed` (none undefined-valued). */
function onlyKeys(o: object, allowed: readonly string[]): boolean {
  for (const [k, v] of Object.entries(o)) if (v === undefined || !allowed.includes(k)) return false;
  return true;
}

function isPlainUsage(u: unknown): u is Usage {
  if (typeof u !== "object" || u === null) return false;
  const keys = Object.keys(u);
  return keys.length === USAGE_KEYS.length && USAGE_KEYS.every((k) => isNumber((u as Record<string, unknown>)[k]));
}

/** A usage object built here from columns: its five numbers are finite (a float64 column may hold any double). */
const finiteUsage = (u: Usage): boolean =>
  Number.isFinite(u.promptTokens) &&
  Number.isFinite(u.completionTokens) &&
  Number.isFinite(u.cacheReadTokens) &&
  Number.isFinite(u.cacheWriteTokens) &&
  Number.isFinite(u.reasoningTokens);

const USER_KEYS = ["role", "content", "timestamp"];
const ASSISTANT_KEYS = ["role", "content", "model", "stopReason", "usage", "timestamp"];
const TOOL_KEYS = ["role", "toolCallId", "name", "content", "isError", "timestamp"];

export function encodeMessages(messages: readonly Message[]): EncodedMessages {
  const columns: number[] = [];
  const strings: string[] = [];
  const stringIndex = new Map<string, number>();
  const other: Message[] = [];
  const pieces: string[] = [];
  const str = (s: string): number => {
    let i = stringIndex.get(s);
    if (i === undefined) {
      i = strings.push(s) - 1;
      stringIndex.set(s, i);
    }
    return i;
  };
  const ts = (m: { timestamp?: unknown }) => m.timestamp === undefined || isNumber(m.timestamp);
  for (const m of messages) {
    if (m.role === "user" && isText(m.content) && ts(m) && onlyKeys(m, USER_KEYS)) {
      const bits = m.timestamp !== undefined ? HAS_TIMESTAMP : 0;
      columns.push(USER * 16 + bits, m.content.length);
      if (bits) columns.push(m.timestamp!);
      pieces.push(m.content);
      continue;
    }
    if (
      m.role === "assistant" &&
      isText(m.content) &&
      ts(m) &&
      onlyKeys(m, ASSISTANT_KEYS) &&
      (m.model === undefined || typeof m.model === "string") &&
      (m.stopReason === undefined || typeof m.stopReason === "string") &&
      (m.usage === undefined || isPlainUsage(m.usage))
    ) {
      const bits =
        (m.timestamp !== undefined ? HAS_TIMESTAMP : 0) |
        (m.model !== undefined ? HAS_MODEL : 0) |
        (m.stopReason !== undefined ? HAS_STOP : 0) |
        (m.usage !== undefined ? HAS_USAGE : 0);
      columns.push(ASSISTANT * 16 + bits, m.content.length);
      if (m.timestamp !== undefined) columns.push(m.timestamp);
      if (m.model !== undefined) columns.push(str(m.model));
      if (m.stopReason !== undefined) columns.push(str(m.stopReason));
      const u = m.usage;
      if (u) columns.push(u.promptTokens, u.completionTokens, u.cacheReadTokens, u.cacheWriteTokens, u.reasoningTokens);
      pieces.push(m.content);
      continue;
    }
    if (
      m.role === "tool" &&
      isText(m.content) &&
      isText(m.toolCallId) &&
      isText(m.name) &&
      typeof m.isError === "boolean" &&
      ts(m) &&
      onlyKeys(m, TOOL_KEYS)
    ) {
      const bits = (m.timestamp !== undefined ? HAS_TIMESTAMP : 0) | (m.isError ? IS_ERROR : 0);
      columns.push(TOOL * 16 + bits, m.toolCallId.length, m.name.length, m.content.length);
      if (m.timestamp !== undefined) columns.push(m.timestamp);
      pieces.push(m.toolCallId, m.name, m.content);
      continue;
    }
    columns.push(OTHER * 16);
    other.push(m);
  }
  return { columns, strings, other, text: pieces.join("") };
}

/**
 * The messages back, or undefined when the parts do not fit together
 * (every length, index and count is checked; `count` is how many messages
 * there must be). `other` entries are checked to be messages, not deeply.
 */
export function decodeMessages(e: EncodedMessages, count: number): Message[] | undefined {
  if (!wellFormed(e)) return undefined;
  const out: Message[] = [];
  const end = walk(e, START, count, out, false);
  return end && consumedAll(e, end) ? out : undefined;
}

/**
 * The messages split at `split`: checked whole now, the ones from `split`
 * on built now, the first `split` built on the first call of `buildHead`
 * (the same objects every call); `headChars` is the length of their text
 * in the columns. Those first ones are also checked to be
 * a history pairToolResults leaves as it is, with no tool call left
 * unanswered at `split`, so pairing the whole list is pairing what
 * follows them. Undefined when anything does not fit; once checked,
 * building cannot fail. This lets a resume send its first request from a
 * kept request prefix before the messages it stands for exist.
 */
export function decodeMessagesSplit(
  e: EncodedMessages,
  count: number,
  split: number,
): { buildHead: () => Message[]; headChars: number; rest: Message[] } | undefined {
  if (!wellFormed(e) || split < 0 || split > count) return undefined;
  const mid = walk(e, START, split, undefined, true);
  if (!mid) return undefined;
  const rest: Message[] = [];
  const end = walk(e, mid, count - split, rest, false);
  if (!end || !consumedAll(e, end)) return undefined;
  let head: Message[] | undefined;
  const buildHead = (): Message[] => {
    if (head) return head;
    const built: Message[] = [];
    // The same walk over the same checked input: it cannot fail, and a failure here is a bug, not bad data.
    if (walk(e, START, split, built, false)?.i !== mid.i) throw new Error("view-codec: a checked head failed to build");
    head = built;
    return head;
  };
  return { buildHead, headChars: mid.at, rest };
}

/** Where a walk stands: in the columns, in the text, in `other`. */
interface Cursor {
  i: number;
  at: number;
  o: number;
}

const START: Cursor = { i: 0, at: 0, o: 0 };

const wellFormed = (e: EncodedMessages): boolean =>
  Array.isArray(e.strings) && Array.isArray(e.other) && typeof e.text === "string";

const consumedAll = (e: EncodedMessages, c: Cursor): boolean =>
  c.i === e.columns.length && c.at === e.text.length && c.o === e.other.length;

/**
 * Walks `count` messages from `from`, checking each; builds them into
 * `out` when given (a check alone allocates nothing but tool-call ids).
 * With `pairing`, also fails unless pairToolResults would keep these
 * messages as they are, none left waiting for a result at the end.
 * Returns where it stopped, undefined on any mismatch.
 *
 * Written for speed (it is on a resume's path to its first request): plain
 * loops over the typed columns, and one object literal per common shape.
 */
function walk(
  e: EncodedMessages,
  from: Cursor,
  count: number,
  out: Message[] | undefined,
  pairing: boolean,
): Cursor | undefined {
  const { columns: c, strings, other, text } = e;
  const n = c.length;
  const size = text.length;
  let at = from.at; // in text
  let i = from.i; // in columns
  let o = from.o; // in other
  // The calls of the last assistant message still waiting for their results (pairToolResults' own rule).
  const pending = pairing ? new Set<unknown>() : undefined;
  // Checks are written out in the loop, not called: a closure over `at` would make every use of it a
  // heap access, which doubled the time of this loop (most of a resume's decode). A length is a whole number
  // (`(x | 0) === x`: texts are far below 2^31) from 0 to what is left of the text; a column read past the
  // end is undefined, which fails every check.
  for (let k = 0; k < count; k++) {
    const head = c[i++] as number;
    if ((head | 0) !== head || head < 0) return undefined;
    const kind = head >> 4;
    const bits = head & 15;
    if (kind === USER && (bits & ~HAS_TIMESTAMP) === 0) {
      if (pending && pending.size > 0) return undefined;
      const len = c[i++];
      if (((len as number) | 0) !== len || len < 0 || at + len > size) return undefined;
      const start = at;
      at += len;
      if (bits === 0) {
        if (out) out.push({ role: "user", content: text.slice(start, at) } satisfies UserMessage);
      } else {
        const timestamp = c[i++];
        if (!isNumber(timestamp)) return undefined;
        if (out) out.push({ role: "user", content: text.slice(start, at), timestamp } satisfies UserMessage);
      }
    } else if (kind === ASSISTANT) {
      if (pending && pending.size > 0) return undefined;
      const len = c[i++];
      if (((len as number) | 0) !== len || len < 0 || at + len > size) return undefined;
      const start = at;
      at += len;
      if (bits === (HAS_TIMESTAMP | HAS_MODEL | HAS_STOP | HAS_USAGE)) {
        // What the runtime writes for every answer: one literal, one shape.
        if (i + 8 > n) return undefined;
        const timestamp = c[i]!;
        const model = strings[c[i + 1]!];
        const stopReason = strings[c[i + 2]!];
        if (typeof model !== "string" || typeof stopReason !== "string" || !isNumber(timestamp)) return undefined;
        if (
          !Number.isFinite(c[i + 3]) ||
          !Number.isFinite(c[i + 4]) ||
          !Number.isFinite(c[i + 5]) ||
          !Number.isFinite(c[i + 6]) ||
          !Number.isFinite(c[i + 7])
        )
          return undefined;
        if (out)
          out.push({
            role: "assistant",
            content: text.slice(start, at),
            model,
            stopReason: stopReason as AssistantMessage["stopReason"],
            usage: {
              promptTokens: c[i + 3]!,
              completionTokens: c[i + 4]!,
              cacheReadTokens: c[i + 5]!,
              cacheWriteTokens: c[i + 6]!,
              reasoningTokens: c[i + 7]!,
            },
            timestamp,
          } satisfies AssistantMessage);
        i += 8;
        continue;
      }
      const m: AssistantMessage = { role: "assistant", content: "" };
      if (bits & HAS_TIMESTAMP) {
        const t = c[i++];
        if (!isNumber(t)) return undefined;
        m.timestamp = t;
      }
      if (bits & HAS_MODEL) {
        const s = strings[c[i++] as number];
        if (typeof s !== "string") return undefined;
        m.model = s;
      }
      if (bits & HAS_STOP) {
        const s = strings[c[i++] as number];
        if (typeof s !== "string") return undefined;
        m.stopReason = s as AssistantMessage["stopReason"];
      }
      if (bits & HAS_USAGE) {
        if (i + 5 > n) return undefined;
        m.usage = {
          promptTokens: c[i]!,
          completionTokens: c[i + 1]!,
          cacheReadTokens: c[i + 2]!,
          cacheWriteTokens: c[i + 3]!,
          reasoningTokens: c[i + 4]!,
        };
        i += 5;
        if (!finiteUsage(m.usage)) return undefined;
      }
      if (out) {
        m.content = text.slice(start, at);
        out.push(m);
      }
    } else if (kind === TOOL && (bits & ~(HAS_TIMESTAMP | IS_ERROR)) === 0) {
      const idLen = c[i++];
      const nameLen = c[i++];
      const contentLen = c[i++];
      if (((idLen as number) | 0) !== idLen || idLen < 0 || at + idLen > size) return undefined;
      const idAt = at;
      at += idLen;
      if (((nameLen as number) | 0) !== nameLen || nameLen < 0 || at + nameLen > size) return undefined;
      const nameAt = at;
      at += nameLen;
      if (((contentLen as number) | 0) !== contentLen || contentLen < 0 || at + contentLen > size) return undefined;
      const contentAt = at;
      at += contentLen;
      let timestamp: number | undefined;
      if (bits & HAS_TIMESTAMP) {
        const t = c[i++];
        if (!isNumber(t)) return undefined;
        timestamp = t;
      }
      if (pending && !pending.delete(text.slice(idAt, nameAt))) return undefined;
      if (out) {
        const m: ToolResultMessage = {
          role: "tool",
          toolCallId: text.slice(idAt, nameAt),
          name: text.slice(nameAt, contentAt),
          content: text.slice(contentAt, at),
          isError: (bits & IS_ERROR) !== 0,
        };
        if (timestamp !== undefined) m.timestamp = timestamp;
        out.push(m);
      }
    } else if (kind === OTHER && bits === 0) {
      const m = other[o++] as Message | undefined;
      if (typeof m !== "object" || m === null || typeof m.role !== "string" || typeof m.content !== "string")
        return undefined;
      if (pending) {
        if (m.role === "tool") {
          if (!pending.delete(m.toolCallId)) return undefined;
        } else {
          if (pending.size > 0) return undefined;
          if (m.role === "assistant" && m.toolCalls) for (const call of m.toolCalls) pending.add(call.id);
        }
      }
      if (out) out.push(m);
    } else return undefined;
  }
  if (pending && pending.size > 0) return undefined;
  return { i, at, o };
}
