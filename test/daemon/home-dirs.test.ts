/** The permission policy for the home and its private folders, on described directories (e2e tests use real ones). */
import { expect, test } from "bun:test";
import { judgeDir, type DirStat } from "../../src/config/home-policy.ts";

const ME = 1000;
const dir = (mode: number, uid = ME): DirStat => ({
  mode: 0o40000 | mode,
  uid,
  isDirectory: () => true,
  isSymbolicLink: () => false,
});
const link: DirStat = { mode: 0o120777, uid: ME, isDirectory: () => false, isSymbolicLink: () => true };
const file: DirStat = { mode: 0o100600, uid: ME, isDirectory: () => false, isSymbolicLink: () => false };

test("ours and private is used, directly or through a symlink", () => {
  expect(judgeDir("/h", dir(0o700), undefined, "/h", ME, "x")).toEqual({ action: "use" });
  expect(judgeDir("/h/sessions", link, dir(0o700), "/data/s", ME, "x")).toEqual({ action: "use" });
});

test("ours and open is refused with the chmod of the real directory", () => {
  const v = judgeDir("/h", dir(0o1777), undefined, "/h", ME, "x");
  expect(v.action).toBe("refuse");
  expect(v.action === "refuse" && v.message).toContain("chmod 700 /h");
  expect(v.action === "refuse" && v.message).toContain("mode 1777");
  const viaLink = judgeDir("/h/sessions", link, dir(0o750), "/data/s", ME, "x");
  expect(viaLink.action === "refuse" && viaLink.message).toContain("chmod 700 /data/s");
});

test("another user's open directory is a warning when reached directly, a refusal through a symlink", () => {
  expect(judgeDir("/tmp", dir(0o1777, 0), undefined, "/tmp", ME, "x").action).toBe("warn");
  expect(judgeDir("/srv/h", dir(0o700, 0), undefined, "/srv/h", ME, "x").action).toBe("use");
  const v = judgeDir("/h/sessions", link, dir(0o700, 0), "/srv/s", ME, "x");
  expect(v.action).toBe("refuse");
  expect(v.action === "refuse" && v.message).toContain("rm /h/sessions && mkdir -m 700 /h/sessions");
});

test("a file or a dangling link is refused", () => {
  expect(judgeDir("/h/logs", file, undefined, "/h/logs", ME, "x").action).toBe("refuse");
  expect(judgeDir("/h/logs", link, undefined, "/gone", ME, "x").action).toBe("refuse");
  expect(judgeDir("/h/logs", link, file, "/f", ME, "x").action).toBe("refuse");
});
