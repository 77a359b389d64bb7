/** Tab completion of attach (src/cli/attach/complete.ts): only a lone /word completes, to commands and skills. */
import { expect, test } from "bun:test";
import { completeSlash, isAttachCommand } from "../../src/cli/attach/complete.ts";

test("a lone /prefix completes to matching commands and skills, sorted", () => {
  expect(completeSlash("/de", ["deploy", "debug"])).toEqual([["/debug", "/deploy"], "/de"]);
  expect(completeSlash("/re", ["release"])).toEqual([["/release", "/resume"], "/re"]);
  expect(completeSlash("/", [])[0]).toContain("/help");
});

test("nothing completes once the line has a space, or without a slash", () => {
  expect(completeSlash("/deploy no", ["deploy"])).toEqual([[], "/deploy no"]);
  expect(completeSlash("dep", ["deploy"])).toEqual([[], "dep"]);
});

test("attach's own commands are recognised, aliases included", () => {
  expect(isAttachCommand("help")).toBe(true);
  expect(isAttachCommand("Quit")).toBe(true);
  expect(isAttachCommand("deploy")).toBe(false);
});
