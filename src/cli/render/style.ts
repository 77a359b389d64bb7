/**
 * Terminal styling for every human-facing CLI view: whether to colour
 * (NO_COLOR wins, then FORCE_COLOR, then "is it a terminal"), the few SGR
 * styles the views use, and width-aware truncation so a line never wraps
 * on an 80-column terminal. A Style with colour off returns text
 * unchanged, so plain output carries no escape code at all.
 */

export type Env = Record<string, string | undefined>;

/** NO_COLOR (any non-empty value) always wins; FORCE_COLOR=0/false disables, any other value enables; otherwise colour only on a terminal that is not "dumb". */
export function colorEnabled(isTTY: boolean, env: Env = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !(force === "0" || force.toLowerCase() === "false");
  return isTTY && env.TERM !== "dumb";
}

const SGR = {
  bold: ["\x1b[1m", "\x1b[22m"],
  dim: ["\x1b[2m", "\x1b[22m"],
  italic: ["\x1b[3m", "\x1b[23m"],
  red: ["\x1b[31m", "\x1b[39m"],
  green: ["\x1b[32m", "\x1b[39m"],
  yellow: ["\x1b[33m", "\x1b[39m"],
  blue: ["\x1b[34m", "\x1b[39m"],
  magenta: ["\x1b[35m", "\x1b[39m"],
  cyan: ["\x1b[36m", "\x1b[39m"],
} as const;

export type StyleName = keyof typeof SGR;

export interface Style {
  readonly color: boolean;
  /** The opening and closing codes of a style ("" when colour is off). */
  codes(name: StyleName): readonly [string, string];
  paint(name: StyleName, text: string): string;
}

export function makeStyle(color: boolean): Style {
  return {
    color,
    codes: (name) => (color ? SGR[name] : ["", ""]),
    paint: (name, text) => (color && text ? SGR[name][0] + text + SGR[name][1] : text),
  };
}

const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g;

export function stripAnsi(text: string): string {
  return text.replace(ESCAPES, "");
}

/** Columns the text occupies (wide characters count 2, escape codes 0). */
export function displayWidth(text: string): number {
  return Bun.stringWidth(text);
}

/** Cuts plain text (no escape codes) to at most `width` columns, ending with "…" when cut. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return "";
  if (displayWidth(text) <= width) return text;
  let out = "";
  let used = 0;
  for (const ch of text) {
    const w = displayWidth(ch);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return `${out}…`;
}

/**
 * Newlines, tabs and control characters (C0, DEL and C1, so no escape
 * sequence survives) become spaces: one-line summaries must stay one line.
 */
export function oneLine(text: string): string {
  return text
    .replace(/[\r\n\t\x00-\x1f\x7f-\x9f]+/g, " ")
    .replace(/\s{2,}/g, " ")
    .trim();
}

/** The terminal width, or 80 when unknown (pipes, tests). */
export function columnsOf(stream: { columns?: number; isTTY?: boolean }): number {
  const c = stream.isTTY ? stream.columns : undefined;
  return c && c > 10 ? c : 80;
}
