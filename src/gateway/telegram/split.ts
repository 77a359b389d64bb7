/**
 * Splitting an answer into Telegram messages: at most 4,096 characters each
 * (Telegram refuses longer text), cut at the last paragraph break inside the
 * limit, else the last line break, else the last space, else hard (never
 * inside a surrogate pair). The one separator at a cut is dropped (Telegram
 * trims a message's edge whitespace anyway); every other character is kept,
 * in order, so joining the parts with their separators gives the text back.
 */
export const TELEGRAM_LIMIT = 4096;

export function splitMessage(text: string, limit = TELEGRAM_LIMIT): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const window = rest.slice(0, limit + 1);
    const cut = lastBoundary(window, limit);
    parts.push(rest.slice(0, cut.at));
    rest = rest.slice(cut.at + cut.skip);
  }
  if (rest.length > 0 || parts.length === 0) parts.push(rest);
  return parts;
}

/** Where to cut inside window (whose first `limit` chars may form a part) and how many separator chars to drop. */
function lastBoundary(window: string, limit: number): { at: number; skip: number } {
  // A boundary must leave a non-trivial part: cutting in the first quarter would make many tiny messages.
  const floor = Math.floor(limit / 4);
  const para = window.lastIndexOf("\n\n", limit - 1);
  if (para >= floor) return { at: para, skip: 2 };
  const line = window.lastIndexOf("\n", limit);
  if (line >= floor) return { at: line, skip: 1 };
  const space = window.lastIndexOf(" ", limit);
  if (space >= floor) return { at: space, skip: 1 };
  const code = window.charCodeAt(limit - 1);
  const inPair = code >= 0xd800 && code <= 0xdbff;
  return { at: inPair ? limit - 1 : limit, skip: 0 };
}
