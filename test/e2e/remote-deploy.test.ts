/**
 * Where remote access is deployed: the container's way of starting (the
 * compiled binary with the image's environment: CRABTALK_TCP on every
 * interface, the token store and certificate from mounted secret files, the
 * HEALTHCHECK command, a clean SIGTERM), the Dockerfile's promises, and the
 * systemd units install.sh writes passing `systemd-analyze verify`.
 * (No Docker daemon runs here, so the image itself is not built.)
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { CrabtalkClient, type DaemonError } from "../../src/client/client.ts";
import { binaryPath, runCli, startDaemon, tempHome } from "../helpers/daemon.ts";
import { homeEnv, tlsInit } from "./remote-kit.ts";

setDefaultTimeout(60_000);
const ROOT = join(import.meta.dir, "..", "..");

describe("the container's start", () => {
  test("CRABTALK_TCP with a mounted token store and certificate: tokens required, status healthy, SIGTERM exits 0", async () => {
    const home = tempHome("crabtalk-container-");
    const secrets = join(home, "secrets");
    try {
      const made = await runCli(
        ["token", "create", "laptop", "--scope", "read", "--file", join(secrets, "tokens.toml")],
        homeEnv(home),
      );
      expect(made.code).toBe(0);
      const token = made.stdout.trim();
      const fingerprint = await tlsInit(home, join(secrets, "tls"));
      chmodSync(join(secrets, "tokens.toml"), 0o400); // a read-only secret mount
      const env = {
        CRABTALK_TCP: "0.0.0.0:0",
        CRABTALK_TOKENS_FILE: join(secrets, "tokens.toml"),
        CRABTALK_TLS_CERT: join(secrets, "tls", "cert.pem"),
        CRABTALK_TLS_KEY: join(secrets, "tls", "key.pem"),
      };
      const d = await startDaemon({ home, env });
      try {
        const tcp = `127.0.0.1:${d.tcpPort()}`;
        const anonymous = await CrabtalkClient.connect({ home, tcp, tls: true, fingerprint });
        const refused = await anonymous.request({ ping: {} }).catch((e) => e);
        expect((refused as DaemonError).code).toBe(401);
        const client = await CrabtalkClient.connect({ home, tcp, tls: true, fingerprint, token });
        expect((await client.request({ status: {} })).status?.tls).toBe(true);
        client.close();
        // The image's HEALTHCHECK: `crabtalk status` on the Unix socket inside the container.
        const health = await runCli(["status"], homeEnv(home));
        expect(health.code).toBe(0);
        expect(health.stdout).toContain("daemon");
        expect(await d.stop("SIGTERM")).toBe(0);
      } finally {
        await d.cleanup();
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("deploy/Dockerfile", () => {
  const dockerfile = readFileSync(join(ROOT, "deploy", "Dockerfile"), "utf8");
  test("non-root, HEALTHCHECK with crabtalk status, SIGTERM, and the remote recipe with tokens and TLS", () => {
    expect(dockerfile).toMatch(/^USER crabtalk$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*CMD \["\/usr\/local\/bin\/crabtalk", "status"\]$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    for (const env of ["CRABTALK_TCP=0.0.0.0:6688", "CRABTALK_TOKENS_FILE=", "CRABTALK_TLS_CERT=", "--token"])
      expect(dockerfile).toContain(env);
  });
});

describe("install.sh systemd units", () => {
  const analyze = Bun.which("systemd-analyze");
  test.skipIf(analyze === null)(
    "both units pass systemd-analyze verify and restart on failure (skipped without systemd-analyze: apt-get install systemd)",
    async () => {
      const dir = tempHome("crabtalk-units-");
      try {
        mkdirSync(join(dir, "bin"));
        symlinkSync(binaryPath(), join(dir, "bin", "crabtalk"));
        const proc = Bun.spawn(["sh", join(ROOT, "install.sh"), "--prefix", dir, "--units-only", join(dir, "units")], {
          stdout: "pipe",
          stderr: "pipe",
        });
        expect(await proc.exited).toBe(0);
        for (const kind of ["system", "user"]) {
          const unit = join(dir, "units", kind, "crabtalk.service");
          const text = readFileSync(unit, "utf8");
          expect(text).toContain("Restart=on-failure");
          expect(text).toContain(`ExecStart=${join(dir, "bin", "crabtalk")} daemon`);
          const verify = Bun.spawn([analyze!, "verify", unit], { stdout: "pipe", stderr: "pipe" });
          const [stderr, code] = await Promise.all([new Response(verify.stderr).text(), verify.exited]);
          expect(`${kind}: ${code} ${stderr.trim()}`).toBe(`${kind}: 0 `);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
  test("the user unit's installer enables lingering, or says exactly how", () => {
    const script = readFileSync(join(ROOT, "install.sh"), "utf8");
    expect(script).toContain('loginctl enable-linger "$(id -un)"');
    expect(script).toContain("sudo loginctl enable-linger $(id -un)");
  });
});
