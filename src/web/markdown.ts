/**
 * A small, safe Markdown renderer for model text in the dashboard: the text
 * is HTML-escaped FIRST, then a few constructs become markup — fenced code
 * blocks, `inline code`, **bold**, *italic* / _italic_, [links](https://…)
 * (http, https and mailto only; they open in a new tab without a referrer),
 * #-headings, - / * / 1. lists, paragraphs. Nothing a model writes can
 * become a tag, an attribute or a script: the only markup in the output is
 * the markup produced here. DOM-free (unit-tested under Bun); the page sets
 * the result as innerHTML of a container.
 */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Inline markup on already escaped text; code spans are cut out first so nothing inside them is touched. */
function inline(escaped: string): string {
  const codes: string[] = [];
  let out = escaped.replace(/`([^`\n]+)`/g, (_, code: string) => {
    codes.push(`<code>${code}</code>`);
    return `\u0000${codes.length - 1}\u0000`;
  });
  out = out.replace(/\[([^\]\n]+)\]\(((?:https?:\/\/|mailto:)[^\s()]+)\)/g, (_, label: string, href: string) => {
    // href is escaped text already (quotes are entities), so it cannot leave the attribute.
    return `<a href="${href}" target="_blank" rel="noopener noreferrer">${label}</a>`;
  });
  out = out.replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>");
  out = out.replace(/(^|[^\w*])\*([^*\n]+)\*(?!\w)/g, "$1<em>$2</em>");
  out = out.replace(/(^|[^\w])_([^_\n]+)_(?!\w)/g, "$1<em>$2</em>");
  return out.replace(/\u0000(\d+)\u0000/g, (_, i: string) => codes[Number(i)]!);
}

const FENCE = /^\s*```\s*([\w+-]*)\s*$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;
const HEADING = /^(#{1,6})\s+(.*)$/;

export function renderMarkdown(source: string): string {
  // The raw text carries no NULs into inline(): they delimit its placeholders.
  const lines = escapeHtml(source.replace(/\u0000/g, "")).split(/\r?\n/);
  const out: string[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) out.push(`<p>${paragraph.map(inline).join("<br>")}</p>`);
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const body: string[] = [];
      for (i++; i < lines.length && !FENCE.test(lines[i]!); i++) body.push(lines[i]!);
      const lang = fence[1] ? ` data-lang="${fence[1]}"` : "";
      out.push(`<pre${lang}><code>${body.join("\n")}</code></pre>`);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      const level = Math.min(6, heading[1]!.length + 2); // h3..h6: headings inside a message stay small
      out.push(`<h${level}>${inline(heading[2]!)}</h${level}>`);
      continue;
    }
    const list = BULLET.test(line) ? BULLET : NUMBERED.test(line) ? NUMBERED : null;
    if (list) {
      flush();
      const tag = list === BULLET ? "ul" : "ol";
      const items: string[] = [];
      for (; i < lines.length && list.test(lines[i]!); i++) items.push(`<li>${inline(list.exec(lines[i]!)![1]!)}</li>`);
      i--;
      out.push(`<${tag}>${items.join("")}</${tag}>`);
      continue;
    }
    if (line.trim() === "") flush();
    else paragraph.push(line);
  }
  flush();
  return out.join("");
}
