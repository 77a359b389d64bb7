/**
 * install.sh end to end: serves the compiled binary from a local HTTP server
 * the way a release does (crabtalk-<os>-<arch> plus .sha256), runs the
 * installer with sh, and checks the installed binary runs; a tampered
 * download is refused.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binaryPath } from "../helpers/daemon.ts";

const ROOT = join(import.meta.dir, "..", "..");
const asset = `crabtalk-${process.platform}-${process.arch === "arm64" ? "arm64" : "x64"}`;
let server: ReturnType<typeof Bun.serve>;
let tamper = false;
const dir = mkdtempSync(join(tmpdir(), "crabtalk-install-"));

beforeAll(() => {
  const bin = readFileSync(binaryPath());
  const sum = createHash("sha256").update(bin).digest("hex");
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === `/${asset}`) return new Response(tamper ? bin.subarray(0, 1000) : bin);
      if (path === `/${asset}.sha256`) return new Response(`${sum}  ${asset}\n`);
      return new Response("not found", { status: 404 });
    },
  });
});
afterAll(() => {
  server.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

/** Async: the download server runs in this process, so blocking on the installer would deadlock it. */
async function install(prefix: string): Promise<{ exitCode: number; stderr: string }> {
  const proc = Bun.spawn(["sh", join(ROOT, "install.sh"), "--prefix", prefix], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      CRABTALK_DOWNLOAD_URL: `http://127.0.0.1:${server.port}`,
    },
    stderr: "pipe",
    stdout: "ignore",
  });
  const [stderr, exitCode] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stderr };
}

test("installs the binary for this machine after checking its SHA-256", async () => {
  tamper = false;
  const r = await install(join(dir, "good"));
  expect(r.exitCode).toBe(0);
  const installed = join(dir, "good", "bin", "crabtalk");
  const version = Bun.spawnSync([installed, "--version"]).stdout.toString().trim();
  expect(version).toMatch(/^\d+\.\d+\.\d+/);
  expect(r.stderr).toContain(`installed ${version}`);
}, 30_000);

test("a download that does not match its checksum is refused and nothing is installed", async () => {
  tamper = true;
  const r = await install(join(dir, "bad"));
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toContain("checksum mismatch");
  expect(existsSync(join(dir, "bad", "bin", "crabtalk"))).toBe(false);
}, 30_000);

test("unknown options are usage errors (exit 2)", () => {
  const r = Bun.spawnSync(["sh", join(ROOT, "install.sh"), "--bogus"], { stderr: "pipe" });
  expect(r.exitCode).toBe(2);
});
