/**
 * Who may reach the compiled daemon over TCP (issue 11, item 2): another
 * local user is refused over IPv4 and IPv6 loopback; a client whose owner the
 * daemon cannot establish is refused, not let in; a non-loopback bind (the
 * old Docker recipe's 0.0.0.0, or the host's own address) stops start-up;
 * and the Dockerfile no longer depends on one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { CrabtalkClient } from "../../src/client/client.ts";
import { binaryPath, runCli, startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";

const ROOT = join(import.meta.dir, "..", "..");
const canRunAsOthers = process.platform === "linux" && process.getuid?.() === 0 && Bun.which("runuser") !== null;
const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", CRABTALK_HOME: "/tmp/crabtalk-nobody" };

/** `crabtalk --tcp ADDR status` run as `nobody`. */
async function statusAsNobody(addr: string): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn(["runuser", "-u", "nobody", "--", binaryPath(), "--tcp", addr, "status"], {
    env: ENV,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return { code, stderr };
}

async function pingOver(tcp: string): Promise<string | undefined> {
  const c = await CrabtalkClient.connect({ tcp });
  try {
    return (await c.request({ ping: {} })).msg;
  } finally {
    c.close();
  }
}

for (const [family, bind, addr] of [
  ["IPv4", "127.0.0.1:0", (port: number) => `127.0.0.1:${port}`],
  ["IPv6", "[::1]:0", (port: number) => `[::1]:${port}`],
] as const) {
  describe(`another local user over ${family} loopback`, () => {
    let d: DaemonHandle;
    beforeAll(async () => {
      d = await startDaemon({ config: `[daemon]\ntcp = "${bind}"\n` });
    });
    afterAll(() => d.cleanup());

    test.if(canRunAsOthers)(`is refused with 403 over ${family}; the owner is served`, async () => {
      const other = await statusAsNobody(addr(d.tcpPort()));
      expect(other.code).toBe(1);
      expect(other.stderr).toContain("403");
      expect(other.stderr).toContain("another user");
      expect(d.stderr()).toMatch(/refusing connection .*runs as uid 65534/);
      expect(await pingOver(addr(d.tcpPort()))).toBe("pong");
    });
  });
}

/**
 * Runs the daemon with /proc hidden behind a tmpfs that links every entry of
 * the real /proc except net/: the daemon then cannot read /proc/net/tcp{,6},
 * as on a system without them, and must refuse TCP clients it cannot place.
 */
describe("a client whose owner cannot be established", () => {
  const canHideProc = canRunAsOthers && Bun.which("unshare") !== null;
  test.if(canHideProc)("is refused over TCP, even the daemon's own user; the Unix socket still serves", async () => {
    const home = tempHome();
    const realProc = join(home, "real-proc");
    mkdirSync(realProc);
    writeFileSync(join(home, "crabtalk.toml"), '[daemon]\ntcp = "127.0.0.1:0"\n');
    const script = [
      "set -e",
      'mount --bind /proc "$REAL"',
      "mount -t tmpfs tmpfs /proc",
      'for e in $(ls "$REAL"); do [ "$e" = net ] || ln -s "$REAL/$e" "/proc/$e"; done',
      'exec "$BIN" daemon',
    ].join("\n");
    const proc = Bun.spawn(["unshare", "-m", "--propagation", "private", "sh", "-c", script], {
      env: { ...ENV, HOME: home, CRABTALK_HOME: home, REAL: realProc, BIN: binaryPath() },
      stdout: "ignore",
      stderr: "pipe",
    });
    let stderr = "";
    void (async () => {
      for await (const chunk of proc.stderr) stderr += new TextDecoder().decode(chunk);
    })();
    try {
      const portFile = join(home, "crabtalk.tcp");
      const deadline = Date.now() + 15_000;
      while (!existsSync(portFile) && proc.exitCode === null && Date.now() < deadline) await Bun.sleep(20);
      expect(existsSync(portFile)).toBe(true);
      const port = Number(readFileSync(portFile, "utf8").trim());
      const r = await runCli(["--tcp", `127.0.0.1:${port}`, "status"], { HOME: home, CRABTALK_HOME: home });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("403");
      expect(r.stderr).toContain("cannot tell which user runs this client");
      expect(stderr).toContain("cannot be established");
      const viaSocket = await runCli(["status"], { HOME: home, CRABTALK_HOME: home });
      expect(viaSocket.code).toBe(0);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
      rmSync(home, { recursive: true, force: true });
    }
  });
});

/** The host's own non-loopback address, if it has one (IPv4 first). */
function ownAddress(): string | undefined {
  const all = Object.values(networkInterfaces()).flat();
  const v4 = all.find((a) => a && a.family === "IPv4" && !a.internal);
  return v4?.address;
}

describe("a non-loopback bind", () => {
  const own = ownAddress();
  const binds = ["0.0.0.0:0", "[::]:0", ...(own ? [`${own}:0`] : [])];
  for (const bind of binds) {
    test(`tcp = "${bind}" without tokens stops start-up with the fix; nothing listens`, async () => {
      const home = tempHome();
      try {
        writeFileSync(join(home, "crabtalk.toml"), `# remote access\n[daemon]\ntcp = "${bind}"\n`);
        // Killed after 10 s if it starts after all, so a regression fails instead of hanging.
        const proc = Bun.spawn([binaryPath(), "daemon"], {
          env: { ...ENV, HOME: home, CRABTALK_HOME: home },
          stdout: "ignore",
          stderr: "pipe",
          timeout: 10_000,
        });
        const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
        const r = { code, stderr };
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("not a loopback address");
        expect(r.stderr).toContain("holds no tokens");
        expect(r.stderr).toContain("crabtalk token create");
        expect(r.stderr).toContain('tcp = "127.0.0.1:6688"');
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(existsSync(join(home, "crabtalk.sock"))).toBe(false);
        expect(existsSync(join(home, "crabtalk.tcp"))).toBe(false);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    });
  }
});

describe("deploy/Dockerfile", () => {
  const dockerfile = readFileSync(join(ROOT, "deploy", "Dockerfile"), "utf8");
  test("binds nothing beyond loopback unless CRABTALK_TCP is set (which requires tokens); local clients use the Unix socket", () => {
    expect(dockerfile).not.toMatch(/tcp\s*=\s*\\?"(0\.0\.0\.0|\[::\])/);
    expect(dockerfile).not.toMatch(/^ENV CRABTALK_TCP/m);
    expect(dockerfile).toContain("docker exec -it crabtalk crabtalk attach");
  });
  test("creates /data private, so the daemon's start-up check accepts the volume", () => {
    expect(dockerfile).toMatch(/install -d -m 700 -o crabtalk \/data/);
  });
});
