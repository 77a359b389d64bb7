/**
 * Markdown as models write it, converted to Telegram's MarkdownV2: fenced
 * and inline code, **bold**, *italic* / _italic_, ~~strike~~, [links](url),
 * headings (as bold), bullets and quotes; every other special character is
 * escaped as MarkdownV2 demands. What this does not understand is escaped
 * and shows as written. The caller falls back to plain text when Telegram
 * still refuses the result ("can't parse entities").
 */

/** Characters MarkdownV2 requires escaped in ordinary text. */
const SPECIAL = /[_*[\]()~`>#+\-=|{}.!\\]/g;

export function escapeMarkdownV2(text: string): string {
  return text.replace(SPECIAL, (c) => `\\${c}`);
}

/** Inside `code` and ```pre```: only ` and \ are escaped. */
function escapeCode(text: string): string {
  return text.replace(/[`\\]/g, (c) => `\\${c}`);
}

/** Inside a link's (url): only ) and \ are escaped. */
function escapeUrl(text: string): string {
  return text.replace(/[)\\]/g, (c) => `\\${c}`);
}

const INLINE =
  /(`[^`\n]+`)|(\*\*[^*\n]+?\*\*)|(__[^_\n]+?__)|(~~[^~\n]+?~~)|(\[[^\]\n]+\]\([^)\s]+\))|(\*[^*\s][^*\n]*?\*)|(\b_[^_\s][^_\n]*?_\b)/g;

function inline(text: string): string {
  let out = "";
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    out += escapeMarkdownV2(text.slice(last, m.index));
    const t = m[0];
    if (m[1]) out += `\`${escapeCode(t.slice(1, -1))}\``;
    else if (m[2] || m[3]) out += `*${escapeMarkdownV2(t.slice(2, -2))}*`;
    else if (m[4]) out += `~${escapeMarkdownV2(t.slice(2, -2))}~`;
    else if (m[5]) {
      const close = t.indexOf("](");
      out += `[${escapeMarkdownV2(t.slice(1, close))}](${escapeUrl(t.slice(close + 2, -1))})`;
    } else out += `_${escapeMarkdownV2(t.slice(1, -1))}_`;
    last = m.index + t.length;
  }
  return out + escapeMarkdownV2(text.slice(last));
}

export function toMarkdownV2(markdown: string): string {
  const out: string[] = [];
  let fence: string[] | null = null;
  let fenceLang = "";
  for (const line of markdown.split("\n")) {
    const opener = /^\s*```\s*([\w+-]*)\s*$/.exec(line);
    if (fence) {
      if (/^\s*```\s*$/.test(line)) {
        out.push(`\`\`\`${fenceLang}\n${escapeCode(fence.join("\n"))}\n\`\`\``);
        fence = null;
      } else fence.push(line);
      continue;
    }
    if (opener) {
      fence = [];
      fenceLang = opener[1] ?? "";
      continue;
    }
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) {
      out.push(`*${escapeMarkdownV2(heading[1]!.replace(/\*\*/g, ""))}*`);
      continue;
    }
    const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
    if (bullet) {
      out.push(`${bullet[1]}• ${inline(bullet[2]!)}`);
      continue;
    }
    const quote = /^>\s?(.*)$/.exec(line);
    if (quote) {
      out.push(`>${inline(quote[1]!)}`);
      continue;
    }
    out.push(inline(line));
  }
  // An unclosed fence (a cut answer) is shown as code all the same.
  if (fence) out.push(`\`\`\`${fenceLang}\n${escapeCode(fence.join("\n"))}\n\`\`\``);
  return out.join("\n");
}
