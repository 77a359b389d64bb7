/**
 * Finding skills on disk: a SKILL.md in any folder below
 * $CRABTALK_HOME/skills, then below each `[daemon] skill_dirs` folder, in
 * that order. Hidden folders are skipped; a duplicate name keeps the first found
 * (so the home's own skills shadow shared ones) and the later one is logged;
 * a SKILL.md without a
 * `name` and `description` in its frontmatter (or with broken YAML) is
 * skipped with a log line naming the file.
 *
 * Every call rescans: skills are few and small, so a scan costs about a
 * millisecond, and edits, additions and removals apply on the next turn
 * with no watcher to trust. Each problem is logged once per file version,
 * not once per scan.
 */
import type { Dirent } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseFrontmatter, requiredString } from "./files.ts";

export interface Skill {
  name: string;
  description: string;
  /** The folder holding SKILL.md (scripts and references beside it are the skill's own). */
  dir: string;
  file: string;
  /** Everything the frontmatter says (license, compatibility, metadata, allowed-tools...). */
  meta: Record<string, unknown>;
}

export const SKILL_FILE = "SKILL.md";
/** Folders deeper than this are not searched: a symlink loop or a home directory given by mistake ends here. */
const MAX_DEPTH = 8;

export class SkillCatalog {
  private readonly reported = new Set<string>();

  /** `roots` in precedence order; `warn` receives each problem once. */
  constructor(
    readonly roots: readonly string[],
    private readonly warn: (message: string) => void = () => {},
  ) {}

  /** Every valid skill by name, scanned now. */
  async all(): Promise<Map<string, Skill>> {
    const found = new Map<string, Skill>();
    for (const root of this.roots) await this.walk(root, 0, found);
    return found;
  }

  /** The skill's body (what follows the frontmatter), read now. */
  async body(skill: Skill): Promise<string> {
    return (await parseFrontmatter(await readFile(skill.file, "utf8"))).body.trim();
  }

  private async walk(dir: string, depth: number, found: Map<string, Skill>): Promise<void> {
    if (depth > MAX_DEPTH) return;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // a configured folder that does not exist (yet) holds no skills
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    if (entries.some((e) => e.name === SKILL_FILE && !e.isDirectory()))
      await this.load(join(dir, SKILL_FILE), dir, found);
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const path = join(dir, e.name);
      const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isDirectory());
      if (isDir) await this.walk(path, depth + 1, found);
    }
  }

  private async load(file: string, dir: string, found: Map<string, Skill>): Promise<void> {
    let text: string;
    let version = "";
    try {
      const st = await stat(file);
      version = `${st.mtimeMs}:${st.size}`;
      text = await readFile(file, "utf8");
    } catch (err) {
      this.once(`${file}:${version}`, `skill ${file} skipped: cannot read it: ${(err as Error).message}`);
      return;
    }
    let data: Record<string, unknown>;
    try {
      data = (await parseFrontmatter(text)).data;
    } catch (err) {
      this.once(`${file}:${version}`, `skill ${file} skipped: ${(err as Error).message}; fix its frontmatter`);
      return;
    }
    const name = requiredString(data, "name");
    const description = requiredString(data, "description");
    if (typeof name !== "string" || typeof description !== "string") {
      const why = typeof name !== "string" ? name.missing : (description as { missing: string }).missing;
      this.once(
        `${file}:${version}`,
        `skill ${file} skipped: its frontmatter ${why}; a skill needs both name and description`,
      );
      return;
    }
    const first = found.get(name);
    if (first) {
      this.once(
        `${file}:dup:${first.file}`,
        `skill "${name}" in ${file} ignored: ${first.file} has the same name and comes first`,
      );
      return;
    }
    found.set(name, { name, description, dir, file, meta: data });
  }

  private once(key: string, message: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.warn(message);
  }
}
