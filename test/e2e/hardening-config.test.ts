/**
 * Start-up refusals of the compiled daemon that the user fixes on their
 * machine (issue 11, items 5, 12 and 13): homes and session folders open to
 * others are refused with the chmod that fixes them and are never chmodded;
 * semantic config errors carry file:line and key; a config or socket path
 * that is a directory or unreadable, and nan/inf numbers, give one clear
 * line and exit 1, never a stack trace.
 */
import { describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { FakeProvider } from "../helpers/fake-provider.ts";
import { binaryPath, startDaemon, tempHome } from "../helpers/daemon.ts";
import { brain, configFor, runCrabtalk } from "./cli-kit.ts";

const asRoot = process.platform === "linux" && process.getuid?.() === 0 && Bun.which("runuser") !== null;
const NOBODY = 65534;

/**
 * Runs `crabtalk daemon` on `home` expecting it to refuse: exit 1, and stderr is one line with no
 * stack trace. A daemon that starts instead is killed after 10 s, so the regression fails, not hangs.
 */
async function refusal(home: string): Promise<string> {
  const proc = Bun.spawn([binaryPath(), "daemon"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home },
    stdout: "ignore",
    stderr: "pipe",
    timeout: 10_000,
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  const r = { code, stderr };
  expect(r.code).toBe(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  return r.stderr;
}

async function withHome(body: (home: string) => Promise<void>): Promise<void> {
  const home = tempHome();
  try {
    await body(home);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const mode = (path: string) => statSync(path).mode & 0o7777;

describe("item 5: directories the daemon did not create keep their mode", () => {
  test("a home of ours open to others (1777) is refused with chmod 700 HOME, and left 1777", () =>
    withHome(async (home) => {
      chmodSync(home, 0o1777);
      const err = await refusal(home);
      expect(err).toContain(`chmod 700 ${home}`);
      expect(err).toContain("mode 1777");
      expect(mode(home)).toBe(0o1777);
      expect(existsSync(join(home, "crabtalk.lock"))).toBe(false);
    }));

  test("a sessions/ symlinked to an open directory is refused with the target's chmod; the target is left alone", () =>
    withHome(async (home) => {
      const target = `${home}-elsewhere`;
      mkdirSync(target, { mode: 0o755 });
      chmodSync(target, 0o755);
      try {
        symlinkSync(target, join(home, "sessions"));
        const err = await refusal(home);
        expect(err).toContain(`chmod 700 ${target}`);
        expect(mode(target)).toBe(0o755);
      } finally {
        rmSync(target, { recursive: true, force: true });
      }
    }));

  test("a sessions/ symlinked to a private directory of ours is used as is", async () => {
    await using fake = await FakeProvider.start();
    fake.route(brain);
    await withHome(async (home) => {
      const target = `${home}-sessions`;
      mkdirSync(target, { mode: 0o700 });
      try {
        symlinkSync(target, join(home, "sessions"));
        await using _daemon = await startDaemon({ home, config: configFor(fake.url) });
        const r = await runCrabtalk(home, ["send", "hello"]);
        expect(r).toMatchObject({ code: 0, stdout: "echo: hello\n" });
        expect(readdirSync(target)).toContain("1.jsonl");
        expect(mode(target)).toBe(0o700);
      } finally {
        rmSync(target, { recursive: true, force: true });
      }
    });
  });

  test.if(asRoot)("an open home owned by another user gets a warning and is left as it is", () =>
    withHome(async (home) => {
      chownSync(home, NOBODY, NOBODY);
      chmodSync(home, 0o777);
      await using d = await startDaemon({ home, config: "[daemon]\ntcp = false\n" });
      await d.waitLog(`${home} belongs to uid ${NOBODY} and is open to other users (mode 0777)`);
      expect(mode(home)).toBe(0o777);
      // What the daemon creates in it is private.
      expect(mode(join(home, "sessions"))).toBe(0o700);
      expect(mode(d.socket)).toBe(0o600);
    }),
  );

  test("a missing home is created 0700, with its private folders", async () => {
    const parent = tempHome();
    try {
      const home = join(parent, "a", "b");
      await using _d = await startDaemon({ home, config: undefined, waitReady: false });
      const deadline = Date.now() + 15_000;
      while (!existsSync(join(home, "crabtalk.sock")) && Date.now() < deadline) await Bun.sleep(20);
      for (const dir of [join(parent, "a"), home, join(home, "sessions"), join(home, "logs"), join(home, "usage")])
        expect(mode(dir)).toBe(0o700);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe("item 12: semantic config errors name file, line and key", () => {
  test("a bad value on line 5 is reported as FILE:5 with its key", () =>
    withHome(async (home) => {
      const file = join(home, "crabtalk.toml");
      writeFileSync(file, `# my config\n[daemon]\ntcp = false\n\nshutdown_grace_ms = -5\n`);
      const err = await refusal(home);
      expect(err).toContain(`config error: ${file}:5: [daemon.shutdown_grace_ms] must be a positive whole number`);
      expect(err).toContain("Fix:");
    }));

  test("a malformed grant in an agent's section points at its line", () =>
    withHome(async (home) => {
      const file = join(home, "crabtalk.toml");
      writeFileSync(file, `[daemon]\ntcp = false\n\n[agents.crab]\nmodel = "m"\ntools = ["bash", "f ly"]\n`);
      const err = await refusal(home);
      expect(err).toContain(`${file}:6: [agents.crab.tools] "f ly" is not a grant`);
    }));
});

describe("item 13: paths in the way and non-finite numbers", () => {
  test("crabtalk.toml that is a directory", () =>
    withHome(async (home) => {
      mkdirSync(join(home, "crabtalk.toml"));
      const err = await refusal(home);
      expect(err).toContain(`${join(home, "crabtalk.toml")}: is a directory, not a file`);
    }));

  test.if(asRoot)("crabtalk.toml that the daemon's user cannot read (run as nobody)", () =>
    withHome(async (home) => {
      const file = join(home, "crabtalk.toml");
      writeFileSync(file, "[daemon]\ntcp = false\n");
      chmodSync(file, 0o000);
      chownSync(home, NOBODY, NOBODY);
      chownSync(file, NOBODY, NOBODY);
      const proc = Bun.spawn(["runuser", "-u", "nobody", "--", binaryPath(), "daemon"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      expect(code).toBe(1);
      expect(stderr).toContain(`${file}: cannot be read: permission denied for uid ${NOBODY}`);
      expect(stderr).not.toMatch(/\n\s+at /);
    }),
  );

  for (const [name, what] of [
    ["crabtalk.sock", "the daemon's socket goes"],
    ["crabtalk.lock", "the daemon keeps its lock file"],
    ["crabtalk.tcp", "the daemon keeps its TCP port file"],
  ] as const) {
    test(`a ${name} that is a directory is refused and left in place`, () =>
      withHome(async (home) => {
        writeFileSync(join(home, "crabtalk.toml"), '[daemon]\ntcp = "127.0.0.1:0"\n');
        mkdirSync(join(home, name));
        const err = await refusal(home);
        expect(err).toContain(`cannot start: ${join(home, name)} is a directory, where ${what}`);
        expect(statSync(join(home, name)).isDirectory()).toBe(true);
        for (const other of ["crabtalk.sock", "crabtalk.lock", "crabtalk.tcp"].filter((n) => n !== name))
          expect(existsSync(join(home, other))).toBe(false);
      }));
  }

  for (const [value, shown] of [
    ["nan", "nan"],
    ["inf", "inf"],
    ["-inf", "-inf"],
  ]) {
    test(`compact_threshold = ${value}`, () =>
      withHome(async (home) => {
        const file = join(home, "crabtalk.toml");
        writeFileSync(file, `[daemon]\ncompact_threshold = ${value}\n`);
        const err = await refusal(home);
        expect(err).toContain(`${file}:2: [daemon.compact_threshold] expected a finite number, got ${shown}`);
        expect(err).not.toContain("null");
      }));
  }
});
