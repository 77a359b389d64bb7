/**
 * The built-in features that sit on the same seams as extensions: skills
 * (src/skills) and memory (src/memory). Their tools go into the registry
 * under their own sources ({kind:"skills", name:"skills"}, {kind:"memory",
 * name:"memory"}) and are granted like any tool (`tools = ["skill",
 * "memory/*"]`); their prompt text comes through a per-turn hook, so edits
 * on disk show in the next turn; `/name` expansion through the runtime's
 * expandInput seam.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/load.ts";
import type { Paths } from "../config/paths.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import { SkillCatalog } from "../skills/catalog.ts";
import { SkillService } from "../skills/service.ts";
import { MemoryService } from "../memory/service.ts";
import { logger } from "../util/log.ts";

const log = logger("features");

export const SKILLS_SOURCE = { kind: "skills", name: "skills" } as const;
export const MEMORY_SOURCE = { kind: "memory", name: "memory" } as const;

export function installFeatures(runtime: SessionRuntime, config: Config, paths: Paths): void {
  installSkills(runtime, config, paths);
  // backend = "off": no memory tools, prompt or auto-recall; an extension may provide them (see memory/service.ts).
  if (config.memory.backend === "builtin") installMemory(runtime, config, paths);
}

function installMemory(runtime: SessionRuntime, config: Config, paths: Paths): void {
  const root = join(paths.home, "memory");
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const memory = new MemoryService(
    root,
    (agent) => config.agents.agents.get(agent)?.memory ?? "shared",
    (m) => log.warn(m),
  );
  logRefused("memory", runtime.registry.setSource(MEMORY_SOURCE, memory.tools()).refused);
  // Load every folder in the background now, so the first recall does not pay for parsing every entry (about 1 s at 10,000).
  for (const name of config.agents.agents.keys())
    void memory
      .storeFor(name)
      ?.refresh()
      .catch((err: unknown) => log.warn(`memory of agent ${name}: cannot load: ${(err as Error).message}`));
  const recallLimit = config.memory.recallLimit;
  runtime.hooks.add({
    name: "memory",
    source: MEMORY_SOURCE,
    turnPrompt: (agent) => memory.prompt(agent.name),
    ...(recallLimit > 0 ? { beforeRun: (turn) => memory.autoRecall(turn.agent, turn.history, recallLimit) } : {}),
  });
}

function installSkills(runtime: SessionRuntime, config: Config, paths: Paths): void {
  const homeDir = join(paths.home, "skills");
  mkdirSync(homeDir, { recursive: true, mode: 0o700 });
  const catalog = new SkillCatalog([homeDir, ...config.skillDirs], (m) => log.warn(m));
  const skills = new SkillService(catalog, homeDir, (agent) => config.agents.agents.get(agent)?.skills);
  logRefused("skills", runtime.registry.setSource(SKILLS_SOURCE, skills.tools()).refused);
  runtime.expandInput = (agent, content) => skills.expand(agent, content);
  runtime.hooks.add({ name: "skills", source: SKILLS_SOURCE, turnPrompt: (agent) => skills.prompt(agent.name) });
  // Problems (broken frontmatter, duplicates) are logged at start, not only at the first turn.
  void catalog.all();
}

function logRefused(source: string, refused: readonly { name: string; reason: string }[]): void {
  for (const r of refused) log.warn(`${source}: tool ${r.name} not registered: ${r.reason}`);
}
