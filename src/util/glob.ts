/**
 * The one glob the project uses for names and event sources: `*` matches any
 * run of characters, everything else matches itself ("cron:*:done",
 * "fs__*"). Used by tool grants, bus subscriptions and gateway routes.
 */
const escapeRegExp = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");

export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map(escapeRegExp).join(".*")}$`);
}

/** Whether `text` matches `pattern` (a pattern without `*` is compared as is). */
export function globMatch(pattern: string, text: string): boolean {
  if (!pattern.includes("*")) return pattern === text;
  return globToRegExp(pattern).test(text);
}
