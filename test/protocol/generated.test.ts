/** The checked-in generated code matches the protos: nobody hand-edited it and nobody forgot `bun run gen`. */
import { expect, test } from "bun:test";
import { isStale } from "../../scripts/gen-proto.ts";

test("src/protocol/gen is up to date with proto/", () => {
  expect(isStale()).toEqual([]);
});
