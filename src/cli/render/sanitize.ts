/**
 * Untrusted text on a terminal. Model answers, thinking, tool arguments and
 * output, titles and names from other clients can hold escape sequences:
 * OSC 52 writes the user's clipboard, OSC 0 retitles the window, CSI 2J
 * clears the screen, a lone CR overwrites what was printed. Every view that
 * puts such text on a terminal passes it through here first, so each
 * control character is shown as text (caret notation: ESC is "^[", BEL
 * "^G") and the terminal interprets none of them. The renderer's own
 * styling is added after this, so it is unaffected.
 *
 * Kept as they are: newline and tab. CR before LF (a CRLF line end) and at
 * the very end of a piece (a CRLF split across two stream chunks) is
 * dropped; any other CR is shown as "^M".
 */

/** C0 controls but tab and newline, DEL, and the C1 range (which terminals also obey: U+009B is a CSI). */
const CONTROLS = /\r\n|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** The text with every control character made visible; "" stays "", text without controls is returned as is. */
export function visibleControls(text: string): string {
  return text.replace(CONTROLS, (c: string, at: number) => {
    if (c === "\r\n") return "\n";
    if (c === "\r" && at === text.length - 1) return "";
    const code = c.charCodeAt(0);
    if (code === 0x7f) return "^?";
    // C1 code c is the 7-bit sequence ESC followed by c - 0x40 (0x9b = ESC [).
    if (code >= 0x80) return `^[${String.fromCharCode(code - 0x40)}`;
    return `^${String.fromCharCode(code + 0x40)}`;
  });
}

/**
 * A copy of a decoded wire value (a StreamEvent, a history message) with
 * every string in it made visible. Deep, so a field added to the protocol
 * later is covered without anyone remembering to.
 */
export function visibleDeep<T>(value: T): T {
  if (typeof value === "string") return visibleControls(value) as T;
  if (Array.isArray(value)) return value.map((v) => visibleDeep(v)) as T;
  if (value !== null && typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value; // bytes, dates: not text
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = visibleDeep(v);
    return out as T;
  }
  return value;
}
