/**
 * Config for skills (src/skills):
 *
 *   [daemon]
 *   skill_dirs = ["~/.claude/skills"]   # searched after $CRABTALK_HOME/skills
 *
 *   [agents.ops]
 *   skills = ["deploy", "triage"]       # or "*" for every skill; omitted = none
 */
import { resolve } from "node:path";
import { ConfigError, expectStringArray, type ConfigContext } from "./errors.ts";
import { expandTilde } from "./paths.ts";

/** The skills an agent may use: names, or every skill. */
export type SkillGrant = readonly string[] | "*";

export function parseSkillGrant(raw: unknown, key: string, ctx: ConfigContext): SkillGrant {
  if (raw === undefined) return [];
  if (raw === "*") return "*";
  const names = expectStringArray(ctx, key, raw, 'write skills = ["deploy", "triage"] or skills = "*"');
  if (names.includes("*")) return "*";
  for (const n of names)
    if (n.trim() === "")
      throw new ConfigError(
        ctx.file,
        key,
        "holds an empty skill name",
        'name each skill as in its SKILL.md (name: "deploy")',
      );
  return [...new Set(names)];
}

export function skillGranted(grant: SkillGrant | undefined, name: string): boolean {
  return grant === "*" || (grant ?? []).includes(name);
}

/** Absolute folders; `~` expands, relative paths are under $CRABTALK_HOME. */
export function parseSkillDirs(raw: unknown, ctx: ConfigContext, home: string): string[] {
  if (raw === undefined) return [];
  const dirs = expectStringArray(ctx, "daemon.skill_dirs", raw, 'write skill_dirs = ["~/.claude/skills"]');
  return dirs.map((d) => resolve(home, expandTilde(d, ctx.env)));
}
