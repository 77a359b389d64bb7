/**
 * `crabtalk skills [--json]`: every skill the daemon would find, with its
 * folder and the agents that may use it. Reads the skill folders and the
 * config directly (they are plain files; no daemon needed).
 */
import { join } from "node:path";
import { defineCommand } from "citty";
import { skillGranted } from "../config/skills.ts";
import { SkillCatalog } from "../skills/catalog.ts";
import { visibleControls as sanitize } from "./render/sanitize.ts";
import { localSetup } from "./local-config.ts";
import { printJson } from "./shared.ts";

export const skillsCommand = defineCommand({
  meta: {
    name: "skills",
    description:
      "List skills ($CRABTALK_HOME/skills and [daemon] skill_dirs) with their folder and the agents granted each ([agents.x] skills = [...]).",
  },
  args: { json: { type: "boolean", description: "Print one JSON array instead of text" } },
  async run({ args }) {
    const { paths, config } = localSetup();
    const problems: string[] = [];
    const catalog = new SkillCatalog([join(paths.home, "skills"), ...config.skillDirs], (m) => problems.push(m));
    const agents = [...config.agents.agents.values()];
    const rows = [...(await catalog.all()).values()].map((s) => ({
      name: s.name,
      description: s.description,
      folder: s.dir,
      agents: agents.filter((a) => skillGranted(a.skills, s.name)).map((a) => a.name),
    }));
    for (const p of problems) process.stderr.write(`warning: ${sanitize(p)}\n`);
    if (args.json) return printJson(rows);
    if (rows.length === 0) process.stdout.write(`no skills in ${join(paths.home, "skills")} or skill_dirs\n`);
    for (const r of rows) {
      process.stdout.write(`${sanitize(r.name)}  ${sanitize(r.description)}\n`);
      process.stdout.write(`  folder: ${sanitize(r.folder)}\n`);
      process.stdout.write(`  agents: ${r.agents.length > 0 ? r.agents.join(", ") : "none granted"}\n`);
    }
  },
});
