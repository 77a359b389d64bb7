/**
 * The pure parts of skills: `/name` parsing and expansion, the catalogue
 * text, and frontmatter through the yaml library both ways.
 */
import { expect, test } from "bun:test";
import { catalogPrompt, expandSkill, parseSlash } from "../../src/skills/expand.ts";
import { FrontmatterError, parseFrontmatter, renderFrontmatter } from "../../src/skills/files.ts";

test("parseSlash takes /name at the very start, followed by space, newline or the end", () => {
  expect(parseSlash("/deploy now")).toEqual({ name: "deploy", rest: "now" });
  expect(parseSlash("/deploy")).toEqual({ name: "deploy", rest: "" });
  expect(parseSlash("/deploy\nline two")).toEqual({ name: "deploy", rest: "line two" });
  expect(parseSlash("/etc/hosts")).toBeUndefined();
  expect(parseSlash(" /deploy")).toBeUndefined();
  expect(parseSlash("please /deploy")).toBeUndefined();
});

test("expandSkill puts the rest first and the body in a skill tag", () => {
  expect(expandSkill("now", "deploy", "\nStep 1.\n")).toBe('now\n\n<skill name="deploy">\nStep 1.\n</skill>');
  expect(expandSkill("", "deploy", "Step 1.")).toBe('<skill name="deploy">\nStep 1.\n</skill>');
});

test("the catalogue lists names and descriptions only, and nothing when there are no skills", () => {
  expect(catalogPrompt([])).toBeUndefined();
  expect(catalogPrompt([{ name: "a", description: "does\n a" }])).toEndWith("\n- a: does a");
});

test("frontmatter round-trips values a hand parser gets wrong", async () => {
  const data = { name: "x", description: 'has: a colon, "quotes" and # hash', aliases: ["one", "two: three"] };
  const text = await renderFrontmatter(data, "Body\n");
  expect(await parseFrontmatter(text)).toEqual({ data, body: "\nBody\n" });
  expect(await parseFrontmatter("no fence\n")).toEqual({ data: {}, body: "no fence\n" });
  await expect(parseFrontmatter("---\nname: [x\n---\n")).rejects.toThrow(FrontmatterError);
  await expect(parseFrontmatter("---\nname: x\n")).rejects.toThrow("never closed");
  await expect(parseFrontmatter("---\n- a\n---\n")).rejects.toThrow("mapping");
});
