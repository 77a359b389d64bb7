/**
 * HTML to readable text for a model: the page's main content (its
 * <article> or <main> when it has one, else <body>), with scripts, styles,
 * navigation and forms dropped, headings marked with #, list items with -,
 * paragraphs separated by blank lines and entities decoded.
 *
 * It is a reading aid, not a parser: malformed markup degrades to more
 * text, never to an error. The page comes from anywhere, so the scan is one
 * pass in linear time whatever the markup (no backtracking regular
 * expressions over the page: unclosed tags by the thousand must not cost
 * minutes).
 */

/** Elements whose content is never text a reader wants; unclosed, they run to the end (as in a browser). */
const DROPPED = new Set([
  "title",
  "script",
  "style",
  "noscript",
  "template",
  "svg",
  "canvas",
  "iframe",
  "object",
  "head",
]);
/** Page furniture, dropped with its content; unclosed, only the tag itself goes. */
const FURNITURE = new Set(["nav", "footer", "aside", "form", "button", "select", "dialog"]);
const BLOCKS = new Set(
  "p div section article main header blockquote pre table thead tbody tr ul ol dl dt dd figure figcaption hr address details summary".split(
    " ",
  ),
);

export interface PageText {
  title: string;
  text: string;
}

export function htmlToText(html: string): PageText {
  const lower = html.toLowerCase();
  const titleAt = lower.indexOf("<title");
  const titleOpen = titleAt < 0 ? -1 : lower.indexOf(">", titleAt);
  const titleClose = titleOpen < 0 ? -1 : lower.indexOf("</title", titleOpen);
  const title = titleClose < 0 ? "" : clean(decodeEntities(stripTags(html.slice(titleOpen + 1, titleClose))));
  for (const tag of ["article", "main", "body"]) {
    const open = lower.indexOf(`<${tag}`);
    const close = lower.lastIndexOf(`</${tag}`);
    if (open < 0 || close < open) continue;
    const text = render(html, lower, open, close);
    if (text) return { title, text };
  }
  return { title, text: render(html, lower, 0, html.length) };
}

/** The text of html[from, to), in one forward scan. */
function render(html: string, lower: string, from: number, to: number): string {
  const out: string[] = [];
  /** Tag names with no closing tag at or after the scan point: searched once, not per occurrence. */
  const unclosed = new Set<string>();
  let nextGt = -1;
  let i = from;
  while (i < to) {
    const lt = lower.indexOf("<", i);
    if (lt < 0 || lt >= to) {
      out.push(squash(html.slice(i, to)));
      break;
    }
    if (lt > i) out.push(squash(html.slice(i, lt)));
    if (lower.startsWith("<!--", lt)) {
      const end = lower.indexOf("-->", lt + 4);
      i = end < 0 ? to : end + 3;
      continue;
    }
    if (nextGt !== Number.POSITIVE_INFINITY && nextGt < lt) {
      nextGt = lower.indexOf(">", lt);
      if (nextGt < 0) nextGt = Number.POSITIVE_INFINITY;
    }
    const name = /^<\/?([a-z][a-z0-9-]*)/.exec(lower.slice(lt, lt + 40))?.[1];
    if (
      nextGt === Number.POSITIVE_INFINITY ||
      nextGt >= to ||
      (!name && lower[lt + 1] !== "!" && lower[lt + 1] !== "?")
    ) {
      out.push("<"); // a lone "<" is text
      i = lt + 1;
      continue;
    }
    i = nextGt + 1;
    if (!name) continue; // <!doctype>, <?xml?>
    const closing = lower[lt + 1] === "/";
    if (!closing && (DROPPED.has(name) || FURNITURE.has(name))) {
      const end = unclosed.has(name) ? -1 : lower.indexOf(`</${name}`, i);
      if (end >= 0 && end < to) {
        const gt = lower.indexOf(">", end);
        i = gt < 0 ? to : gt + 1;
        out.push("\n");
      } else {
        unclosed.add(name);
        if (DROPPED.has(name)) i = to;
      }
      continue;
    }
    out.push(markFor(name, closing));
  }
  return decodeEntities(out.join(""))
    .split("\n")
    .map(clean)
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

function markFor(name: string, closing: boolean): string {
  const heading = /^h([1-6])$/.exec(name);
  if (heading) return closing ? "\n\n" : `\n\n${"#".repeat(Number(heading[1]))} `;
  if (name === "li") return closing ? "" : "\n- ";
  if (name === "br") return "\n";
  if (name === "td" || name === "th") return " ";
  if (BLOCKS.has(name)) return "\n\n";
  return "";
}

/** Source whitespace (newlines included) is layout, not text: one space. */
function squash(text: string): string {
  return text.replace(/\s+/g, " ");
}

/** Tags out of a short fragment (a title, a snippet); a "<" with no ">" before the next "<" stays as text. */
export function stripTags(html: string): string {
  return html.replace(/<[^<>]*>/g, "");
}

function clean(text: string): string {
  return text.replace(/[ \t\r\f\v\u00a0]+/g, " ").trim();
}

const NAMED: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  mdash: "—",
  ndash: "–",
  hellip: "…",
  lsquo: "‘",
  rsquo: "’",
  ldquo: "“",
  rdquo: "”",
  laquo: "«",
  raquo: "»",
  middot: "·",
  bull: "•",
  copy: "©",
  reg: "®",
  trade: "™",
  deg: "°",
  times: "×",
  euro: "€",
  pound: "£",
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8});/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[name.toLowerCase()] ?? whole;
  });
}
