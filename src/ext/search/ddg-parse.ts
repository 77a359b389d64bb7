/**
 * Results out of a html.duckduckgo.com result page (shape described in
 * test/fixtures/search/README.md): each `div.result` holds an `a.result__a`
 * title link, usually through //duckduckgo.com/l/?uddg=<target>, and an
 * `.result__snippet`; `div.result--ad` blocks are ads and are skipped.
 *
 * One forward pass over the tags, in linear time whatever the page holds
 * (the page is remote; a regular expression with lazy spans over it goes
 * quadratic on unclosed links).
 */
import { decodeEntities, stripTags } from "./html-text.ts";

export interface SearchResult {
  title: string;
  url: string;
  snippet: string;
}

/** Longer tags are not result markup; reading them whole could cost a scan per "<" inside one. */
const MAX_TAG = 4096;
/** A title or snippet longer than this is not one (an unclosed link would otherwise take the rest of the page). */
const MAX_TEXT = 4096;

interface Tag {
  name: string;
  cls: string;
  href: string;
  /** Index just past the tag's ">". */
  end: number;
}

export function parseDuckDuckGo(html: string, base: string): SearchResult[] {
  const lower = html.toLowerCase();
  const nextClose = finder(lower);
  const nextGt = finder(lower);
  const results: SearchResult[] = [];
  let inAd = false;
  let open: { title: string; url: string | null; ad: boolean; snippet: string } | null = null;
  const flush = () => {
    if (open?.url && !open.ad && !/duckduckgo\.com\/y\.js/.test(open.url))
      results.push({ title: open.title, url: open.url, snippet: open.snippet });
    open = null;
  };
  for (let i = lower.indexOf("<"); i >= 0; i = lower.indexOf("<", i + 1)) {
    const tag = readTag(html, lower, i, nextGt(i, [">"]));
    if (!tag) continue;
    const classes = tag.cls.split(/\s+/);
    if (tag.name === "div" && classes.includes("result")) inAd = classes.includes("result--ad");
    if (tag.name === "a" && classes.includes("result__a")) {
      flush();
      const close = nextClose(tag.end, ["</a"]);
      open = {
        title: text(html.slice(tag.end, Math.min(close, tag.end + MAX_TEXT))),
        url: resultUrl(tag.href, base),
        ad: inAd,
        snippet: "",
      };
    } else if (open && !open.snippet && classes.includes("result__snippet")) {
      const close = nextClose(tag.end, ["</a", "</div", "</td"]);
      open.snippet = text(html.slice(tag.end, Math.min(close, tag.end + MAX_TEXT)));
    }
  }
  flush();
  return results;
}

/** The tag starting at `at` and ending at `gt` (its name, class and href), or null when it is not a start tag. */
function readTag(html: string, lower: string, at: number, gt: number): Tag | null {
  const m = /^<([a-z][a-z0-9]*)\b/.exec(lower.slice(at, at + 12));
  if (!m) return null;
  if (gt >= lower.length || gt - at > MAX_TAG) return null;
  const source = html.slice(at, gt);
  return {
    name: m[1]!,
    cls: /\bclass\s*=\s*"([^"]*)"/i.exec(source)?.[1]?.toLowerCase() ?? "",
    href: decodeEntities(/\bhref\s*=\s*"([^"]*)"/i.exec(source)?.[1] ?? ""),
    end: gt + 1,
  };
}

/**
 * The first of `needles` at or after a position, searched with a memo per
 * needle: positions only move forward, so each needle's scans add up to
 * one pass.
 */
function finder(lower: string): (from: number, needles: string[]) => number {
  const memo = new Map<string, number>();
  return (from, needles) => {
    let best = lower.length;
    for (const needle of needles) {
      let at = memo.get(needle) ?? -2;
      if (at !== -1 && at < from) {
        at = lower.indexOf(needle, from);
        memo.set(needle, at);
      }
      if (at >= 0) best = Math.min(best, at);
    }
    return best;
  };
}

/** The target of a result link: DuckDuckGo wraps it in //duckduckgo.com/l/?uddg=<target>. */
function resultUrl(href: string, base: string): string | null {
  let url: URL;
  try {
    url = new URL(href, base);
  } catch {
    return null;
  }
  const target = url.pathname === "/l/" ? url.searchParams.get("uddg") : null;
  return target ?? url.href;
}

function text(html: string): string {
  return decodeEntities(stripTags(html)).replace(/\s+/g, " ").trim();
}
