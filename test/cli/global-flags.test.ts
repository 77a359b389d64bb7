import { expect, test } from "bun:test";
import { hoistGlobalFlags } from "../../src/cli/global-flags.ts";

test("connection flags before the command move behind it", () => {
  expect(hoistGlobalFlags(["--socket", "/x.sock", "status", "--json"])).toEqual([
    "status",
    "--socket",
    "/x.sock",
    "--json",
  ]);
  expect(hoistGlobalFlags(["--tcp", "status"])).toEqual(["status", "--tcp"]);
  expect(hoistGlobalFlags(["--tcp", "127.0.0.1:7000", "send", "hi"])).toEqual(["send", "--tcp=127.0.0.1:7000", "hi"]);
  expect(hoistGlobalFlags(["--tcp=:7000", "status"])).toEqual(["status", "--tcp=:7000"]);
});

test("arguments without leading connection flags are unchanged", () => {
  expect(hoistGlobalFlags(["status", "--tcp"])).toEqual(["status", "--tcp"]);
  expect(hoistGlobalFlags(["--version"])).toEqual(["--version"]);
  expect(hoistGlobalFlags(["--tcp"])).toEqual(["--tcp"]);
});
