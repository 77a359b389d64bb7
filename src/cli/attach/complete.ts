/**
 * Tab completion at the attach prompt: a line that is a lone `/word` (no
 * space yet) completes to attach's own commands and to the skills the
 * current agent may use (read from the skill folders on each Tab, so a
 * skill saved a moment ago completes). Anything else completes to nothing.
 */
import { join } from "node:path";
import { skillGranted, type SkillGrant } from "../../config/skills.ts";
import { SkillCatalog } from "../../skills/catalog.ts";
import { pathsFor, resolveHome } from "../../config/paths.ts";
import { localSetup } from "../local-config.ts";
import { HELP } from "./slash.ts";

/** attach's own commands, as typed: "/help", "/resume"... */
export const ATTACH_COMMANDS: readonly string[] = HELP.map(([cmd]) => cmd.split(" ")[0]!);

/** Whether `/word` is one of attach's own commands (they win over a skill of the same name). */
export function isAttachCommand(word: string): boolean {
  const w = word.toLowerCase();
  return ATTACH_COMMANDS.includes(`/${w}`) || w === "quit" || w === "?";
}

/** What readline's completer returns: the candidates and the part of the line they replace. */
export function completeSlash(line: string, skills: readonly string[]): [string[], string] {
  if (!/^\/[\w-]*$/.test(line)) return [[], line];
  const all = [...new Set([...ATTACH_COMMANDS, ...skills.map((s) => `/${s}`)])].sort();
  return [all.filter((c) => c.startsWith(line)), line];
}

/** The skills an agent may use, from the local skill folders and config; every skill found when the config cannot be read. */
export function skillLister(): (agent: string) => Promise<string[]> {
  let roots: string[];
  let grantOf: (agent: string) => SkillGrant | undefined;
  try {
    const { paths, config } = localSetup();
    roots = [join(paths.home, "skills"), ...config.skillDirs];
    grantOf = (agent) => config.agents.agents.get(agent)?.skills;
  } catch {
    roots = [join(pathsFor(resolveHome()).home, "skills")];
    grantOf = () => "*";
  }
  const catalog = new SkillCatalog(roots);
  return async (agent) => [...(await catalog.all()).keys()].filter((name) => skillGranted(grantOf(agent), name));
}
