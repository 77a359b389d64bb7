/**
 * DOM helpers for the dashboard: element construction without HTML strings
 * (text always goes in as text nodes), and the formatting every page shares.
 * Styling is by class names from style.css only: the page's CSP
 * (default-src 'self') allows no inline styles, so positions that must be
 * computed are set through the CSSOM (element.style.x), which CSP permits.
 */

type Child = Node | string | null | undefined | false;

export interface Attrs {
  class?: string;
  [attr: string]: string | number | boolean | undefined | ((event: Event) => void);
}

/** `h("div", { class: "row", onclick: fn }, "text", child)`: attributes named on* become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = String(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}

export function formatTime(ms: number): string {
  if (!ms) return "—";
  return new Date(ms).toTimeString().slice(0, 8);
}

export function formatWhen(ms: number): string {
  if (!ms) return "—";
  const d = new Date(ms);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? formatTime(ms) : d.toISOString().slice(0, 10);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** One line of a tool call's arguments: the JSON object's values, cut. */
export function summarizeArgs(json: string, max = 80): string {
  let text = json;
  try {
    const parsed = JSON.parse(json) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      text = Object.values(parsed as Record<string, unknown>)
        .map((v) => (typeof v === "string" ? v : JSON.stringify(v)))
        .join(" ");
  } catch {
    // not JSON: shown as is
  }
  text = text.replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Pretty JSON when it parses, else the text itself. */
export function prettyJson(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}
