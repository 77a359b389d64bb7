/**
 * Tool grants: which tools an agent may see and call. A grant is one of
 *   "bash"       an exact tool name;
 *   "fs__*"      a name pattern, `*` matching any run of characters;
 *   "search/*"   every tool of one source (an MCP server, an extension, "builtin");
 *   "*"          every tool there is.
 * Grants are checked by name and source only, so a tool that appears at run
 * time (an MCP server connecting, an extension restarting) is granted the
 * moment it exists, and one that disappears is simply not matched.
 */
import { globToRegExp } from "./glob.ts";

/** The part of a tool's source a grant can name (structural, so config can check grants without the agent layer). */
export interface GrantSource {
  name: string;
}

export interface Grant {
  /** The grant as written, for messages. */
  text: string;
  matches(tool: string, source: GrantSource): boolean;
}

/** A grant's text is well formed: a name or pattern, or `<source>/*`; undefined when fine, else what is wrong. */
export function grantSyntaxError(text: string): string | undefined {
  if (text.length === 0) return "a grant cannot be empty";
  const slash = text.indexOf("/");
  if (slash >= 0) {
    const [source, rest] = [text.slice(0, slash), text.slice(slash + 1)];
    if (!/^[A-Za-z0-9_.-]+$/.test(source)) return `"${source}" is not a source name`;
    if (rest.length === 0) return `write "${source}/*" for every tool of ${source}`;
    if (!/^[A-Za-z0-9_.*-]+$/.test(rest)) return `"${rest}" is not a tool name or pattern`;
    return undefined;
  }
  if (!/^[A-Za-z0-9_.*-]+$/.test(text)) return `"${text}" is not a tool name or pattern (letters, digits, _ . - and *)`;
  return undefined;
}

export function parseGrant(text: string): Grant {
  const slash = text.indexOf("/");
  if (slash >= 0) {
    const sourceName = text.slice(0, slash);
    const name = globToRegExp(text.slice(slash + 1));
    return { text, matches: (tool, source) => source.name === sourceName && name.test(tool) };
  }
  if (!text.includes("*")) return { text, matches: (tool) => tool === text };
  const pattern = globToRegExp(text);
  return { text, matches: (tool) => pattern.test(tool) };
}

/** An agent's whole grant list. */
export class Grants {
  private readonly grants: Grant[];

  constructor(readonly texts: readonly string[]) {
    this.grants = texts.map(parseGrant);
  }

  allows(tool: string, source: GrantSource): boolean {
    return this.grants.some((g) => g.matches(tool, source));
  }

  /** For each grant, the names of the given tools it matches (what `status` and `crabtalk agents` show). */
  resolve(tools: readonly { name: string; source: GrantSource }[]): { grant: string; tools: string[] }[] {
    return this.grants.map((g) => ({
      grant: g.text,
      tools: tools.filter((t) => g.matches(t.name, t.source)).map((t) => t.name),
    }));
  }
}
