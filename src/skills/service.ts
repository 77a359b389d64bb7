/**
 * Skills as the daemon serves them: each agent's grant applied to the
 * catalogue, `/name` expansion, the system-prompt catalogue and the `skill`
 * and `save_skill` tools. A skill outside an agent's grant is refused by
 * all of them (the catalogue simply leaves it out).
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Tool, ToolOutput } from "../agent/types.ts";
import { skillGranted, type SkillGrant } from "../config/skills.ts";
import { SessionError } from "../session/errors.ts";
import { SKILL_FILE, type Skill, type SkillCatalog } from "./catalog.ts";
import { catalogPrompt, expandSkill, parseSlash } from "./expand.ts";
import { parseFrontmatter, renderFrontmatter, writeFileAtomic } from "./files.ts";

export const SKILL_NAME = /^[a-z0-9-]{1,64}$/;

export class SkillService {
  constructor(
    readonly catalog: SkillCatalog,
    /** Where save_skill writes: $CRABTALK_HOME/skills. */
    readonly homeDir: string,
    private readonly grants: (agent: string) => SkillGrant | undefined,
  ) {}

  granted(agent: string, name: string): boolean {
    return skillGranted(this.grants(agent), name);
  }

  /** The agent's skills now, by name. */
  async forAgent(agent: string): Promise<Skill[]> {
    return [...(await this.catalog.all()).values()].filter((s) => this.granted(agent, s.name));
  }

  /** The message as the turn runs it: `/name rest` expanded, anything else unchanged; an ungranted skill is refused. */
  async expand(agent: string, content: string): Promise<string> {
    const slash = parseSlash(content);
    if (!slash) return content;
    const skill = (await this.catalog.all()).get(slash.name);
    if (!skill) return content;
    if (!this.granted(agent, skill.name))
      throw new SessionError(
        "forbidden",
        `skill "${skill.name}" is not granted to agent ${agent}; add it to skills = [...] in [agents.${agent}] of crabtalk.toml`,
      );
    return expandSkill(slash.rest, skill.name, await this.catalog.body(skill));
  }

  async prompt(agent: string): Promise<string | undefined> {
    return catalogPrompt(await this.forAgent(agent));
  }

  tools(): Tool[] {
    return [this.skillTool(), this.saveTool()];
  }

  private skillTool(): Tool {
    return {
      name: "skill",
      description:
        "Read a skill (a reusable workflow). With an exact skill name: its instructions, read fresh, and its folder. Otherwise: the skills whose name or description contains the text, one `name: description` per line (empty lists all).",
      parameters: {
        type: "object",
        properties: { name: { type: "string", description: "A skill name, or words to look for" } },
        additionalProperties: false,
      },
      execute: async (args, ctx): Promise<ToolOutput> => {
        const asked = typeof args.name === "string" ? args.name.trim() : "";
        const all = await this.catalog.all();
        const exact = all.get(asked);
        if (exact) {
          if (!this.granted(ctx.agent, exact.name))
            return { output: `skill "${exact.name}" is not granted to agent ${ctx.agent}`, isError: true };
          const body = await this.catalog.body(exact);
          return {
            output: `<skill name="${exact.name}" folder="${exact.dir}">\n${body}\n</skill>`,
            details: { file: exact.file },
          };
        }
        const needle = asked.toLowerCase();
        const hits = [...all.values()].filter(
          (s) =>
            this.granted(ctx.agent, s.name) &&
            (s.name.toLowerCase().includes(needle) || s.description.toLowerCase().includes(needle)),
        );
        if (hits.length === 0)
          return { output: asked ? `no skill of yours matches "${asked}"` : "you have no skills granted" };
        return { output: hits.map((s) => `${s.name}: ${s.description}`).join("\n") };
      },
    };
  }

  private saveTool(): Tool {
    return {
      name: "save_skill",
      description:
        "Save a reusable workflow as a skill (creates or replaces $CRABTALK_HOME/skills/<name>/SKILL.md). name: lowercase letters, digits and -, at most 64.",
      parameters: {
        type: "object",
        properties: {
          name: { type: "string", pattern: "^[a-z0-9-]{1,64}$" },
          description: { type: "string", description: "One line: what it does and when to use it" },
          body: { type: "string", description: "The instructions, in Markdown" },
        },
        required: ["name", "description", "body"],
        additionalProperties: false,
      },
      execute: async (args): Promise<ToolOutput> => {
        const name = String(args.name);
        const description = String(args.description).trim();
        const body = String(args.body);
        if (!SKILL_NAME.test(name))
          return { output: `"${name}" is not a skill name: use a-z, 0-9 and -, 1 to 64 characters`, isError: true };
        if (!description) return { output: "description is empty: say in one line what the skill does", isError: true };
        const dir = join(this.homeDir, name);
        const file = join(dir, SKILL_FILE);
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFileAtomic(file, await renderFrontmatter({ name, description }, body));
        // Read back through the same parser discovery uses: what was written must load as this skill.
        const back = await parseFrontmatter(await readFile(file, "utf8"));
        if (back.data.name !== name || back.data.description !== description)
          return {
            output: `wrote ${file} but it does not read back as skill "${name}"; check the file`,
            isError: true,
          };
        const winner = (await this.catalog.all()).get(name);
        const shadow =
          winner && winner.file !== file ? ` (note: ${winner.file} has the same name and comes first)` : "";
        return { output: `saved skill "${name}" to ${file}${shadow}` };
      },
    };
  }
}
