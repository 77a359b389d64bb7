/**
 * The plain files skills and memory are made of: Markdown with a YAML
 * frontmatter block, written atomically. Shared by src/skills and
 * src/memory (both are "files a person can edit").
 *
 * Frontmatter goes through the `yaml` package both ways: parsing YAML by
 * hand gets quoting, multi-line strings and lists wrong, and a description
 * holding ": " must survive a round trip. It is imported dynamically, only
 * when a fence is parsed or frontmatter rendered: its import costs ~11 ms,
 * which a daemon in a home without skill or memory files never pays (issue 20).
 *
 * Atomic write: temp file in the same folder (hidden, unique per writer),
 * fsync, rename over the target, fsync of the folder. A reader, or a crash
 * at any point, sees the old file or the new one, never part of one; two
 * writers of the same name each replace it whole (last rename wins).
 */
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface Frontmatter {
  data: Record<string, unknown>;
  body: string;
}

export class FrontmatterError extends Error {}

const FENCE = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

/** Splits `---\nyaml\n---\nbody`; a file without a fence has empty data. Throws FrontmatterError on bad YAML. */
export async function parseFrontmatter(text: string): Promise<Frontmatter> {
  const m = FENCE.exec(text.replace(/^\uFEFF/, ""));
  if (!m) {
    if (text.startsWith("---")) throw new FrontmatterError("the frontmatter opened with --- is never closed by ---");
    return { data: {}, body: text };
  }
  const { parse } = await import("yaml");
  let data: unknown;
  try {
    data = parse(m[1]!);
  } catch (err) {
    throw new FrontmatterError(`the frontmatter is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (data === null || data === undefined) data = {};
  if (typeof data !== "object" || Array.isArray(data))
    throw new FrontmatterError("the frontmatter must be a mapping of keys (name: ..., description: ...)");
  return { data: data as Record<string, unknown>, body: text.slice(m[0].length) };
}

/** `---\n<yaml>---\n\n<body>`, keys in the order given; undefined values left out. */
export async function renderFrontmatter(data: Record<string, unknown>, body: string): Promise<string> {
  const { stringify } = await import("yaml");
  const clean = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined));
  return `---\n${stringify(clean, { lineWidth: 0 })}---\n\n${body.replace(/^\n+/, "")}${body.endsWith("\n") ? "" : "\n"}`;
}

/** A required non-empty string field, or a message naming it. */
export function requiredString(data: Record<string, unknown>, key: string): string | { missing: string } {
  const v = data[key];
  if (typeof v === "string" && v.trim() !== "") return v.trim();
  return { missing: v === undefined ? `has no "${key}"` : `"${key}" is not a non-empty string` };
}

let counter = 0;

/** Writes `text` to `path` atomically and durably (see the file comment). */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${++counter}.${Math.random().toString(36).slice(2)}.tmp`);
  const file = await open(temp, "wx", mode);
  try {
    await file.writeFile(text, "utf8");
    await file.sync();
  } catch (err) {
    await file.close();
    await rm(temp, { force: true });
    throw err;
  }
  await file.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const folder = await open(dir, "r");
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/** Temp files of writeFileAtomic (left by a crash between write and rename): never read as content. */
export function isTempFile(name: string): boolean {
  return name.startsWith(".") && name.endsWith(".tmp");
}
