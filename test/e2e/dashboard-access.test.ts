/**
 * Who reaches the dashboard, through the compiled daemon: a non-loopback
 * `http` without tokens is refused at start; over TLS the dashboard is
 * HTTPS and its cookie Secure; revoking a token closes its bridge and ends
 * its cookie session; a changed `http` is reported as needing a restart.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, startDaemon, tempHome as newHome } from "../helpers/daemon.ts";
import { BridgeClient, sessionCookie } from "../helpers/ws-bridge.ts";
import { createToken, homeEnv, tlsInit } from "./remote-kit.ts";

const AGENT = `[provider.fake]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`;

/** Homes made here (startDaemon removes only the homes it made itself). */
const homes: string[] = [];
function tempHome(): string {
  const home = newHome();
  homes.push(home);
  return home;
}
afterAll(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

function config(daemon: string): string {
  return `[daemon]\ntcp = false\n${daemon}\n${AGENT}`;
}

function httpPort(home: string): number {
  return Number(readFileSync(join(home, "crabtalk.http"), "utf8").trim());
}

describe("exposure", () => {
  test("a non-loopback http without tokens stops start-up with the fix", async () => {
    await using d = await startDaemon({ config: config('http = "0.0.0.0:0"'), waitReady: false });
    expect(await d.proc.exited).toBe(1);
    expect(d.stderr()).toContain('[daemon] http = "0.0.0.0:0" is not a loopback address');
    expect(d.stderr()).toContain("crabtalk token create");
  });

  test("with a token it starts, and answers as loopback on its port", async () => {
    const home = tempHome();
    await createToken(home, "laptop", "chat");
    await using d = await startDaemon({ home, config: config('http = "0.0.0.0:0"') });
    const port = httpPort(d.home);
    expect((await fetch(`http://127.0.0.1:${port}/login`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/login`, { headers: { Host: `10.9.8.7:${port}` } })).status).toBe(421);
  });
});

describe("TLS", () => {
  test("with tls_cert/tls_key the dashboard is HTTPS and the cookie is Secure", async () => {
    const home = tempHome();
    await tlsInit(home);
    const tls = `tls_cert = "${join(home, "tls", "cert.pem")}"\ntls_key = "${join(home, "tls", "key.pem")}"`;
    await using d = await startDaemon({ home, config: config(`http = "127.0.0.1:0"\n${tls}`) });
    const r = await runCli(["dashboard", "--json"], homeEnv(d.home));
    const { url } = JSON.parse(r.stdout) as { url: string };
    expect(url).toStartWith(`https://127.0.0.1:${httpPort(d.home)}/login?token=`);
    const res = await fetch(url, { redirect: "manual", tls: { rejectUnauthorized: false } });
    expect(res.status).toBe(303);
    expect(res.headers.get("set-cookie")).toContain("; Secure");
    expect(res.headers.get("set-cookie")).toStartWith(`__Host-crabtalk_dash_${httpPort(d.home)}=`);
    const page = await fetch(url.replace(/\/login.*/, "/"), {
      headers: { Cookie: sessionCookie(res) },
      tls: { rejectUnauthorized: false },
    });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain(`wss://127.0.0.1:${httpPort(d.home)}`);
  });
});

describe("tokens", () => {
  test("revoking a token closes its bridge with 401 and ends the cookie session it logged in", async () => {
    const home = tempHome();
    const token = await createToken(home, "tablet", "chat");
    await using d = await startDaemon({ home, config: config('http = "127.0.0.1:0"') });
    const base = `http://127.0.0.1:${httpPort(d.home)}`;
    const form = await fetch(`${base}/login`, {
      method: "POST",
      headers: { Origin: base, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token }),
      redirect: "manual",
    });
    const cookie = sessionCookie(form);
    expect((await fetch(base, { headers: { Cookie: cookie }, redirect: "manual" })).status).toBe(200);
    const ws = await BridgeClient.open(`${base.replace("http", "ws")}/ws`, { Authorization: `Bearer ${token}` });
    expect((await ws.request({ ping: {} })).pong).toBeDefined();

    const revoked = await runCli(["token", "revoke", "tablet"], homeEnv(d.home));
    expect(revoked.code).toBe(0);
    await ws.closed();
    expect(ws.unsolicited.map((m) => m.error?.code)).toContain(401);
    const after = await fetch(base, { headers: { Cookie: cookie }, redirect: "manual" });
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/login");
  });

  test("a token created again under the same name does not inherit the old one's cookie sessions", async () => {
    const home = tempHome();
    const first = await createToken(home, "phone", "admin");
    await using d = await startDaemon({ home, config: config('http = "127.0.0.1:0"') });
    const base = `http://127.0.0.1:${httpPort(d.home)}`;
    const form = await fetch(`${base}/login`, {
      method: "POST",
      headers: { Origin: base, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: first }),
      redirect: "manual",
    });
    const cookie = sessionCookie(form);
    expect((await fetch(base, { headers: { Cookie: cookie }, redirect: "manual" })).status).toBe(200);
    expect((await runCli(["token", "revoke", "phone"], homeEnv(d.home))).code).toBe(0);
    await createToken(home, "phone", "read");
    const after = await fetch(base, { headers: { Cookie: cookie }, redirect: "manual" });
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/login");
  });

  test("only the owner mints login links: a token over TCP is refused with 403", async () => {
    const home = tempHome();
    const token = await createToken(home, "root-ish", "admin");
    await using d = await startDaemon({
      home,
      config: `[daemon]\ntcp = "127.0.0.1:0"\nhttp = "127.0.0.1:0"\n${AGENT}`,
    });
    const tcp = `127.0.0.1:${d.tcpPort()}`;
    const r = await runCli(["dashboard", "--json", "--tcp", tcp, "--token", token], homeEnv(d.home));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("403");
    expect(r.stderr).toContain("only the owner");
  });
});

describe("stale files", () => {
  test("a daemon killed with -9 leaves crabtalk.http; doctor names it and --fix removes it", async () => {
    await using d = await startDaemon({ config: config('http = "127.0.0.1:0"') });
    await d.kill9();
    const file = join(d.home, "crabtalk.http");
    expect(existsSync(file)).toBe(true);
    const r = await runCli(["doctor", "--json", "--offline"], homeEnv(d.home));
    const finding = (JSON.parse(r.stdout) as { check: string; status: string }[]).find(
      (f) => f.check === "dashboard port file",
    );
    expect(finding?.status).toBe("fail");
    await runCli(["doctor", "--offline", "--fix"], homeEnv(d.home));
    expect(existsSync(file)).toBe(false);
  });
});

describe("reload", () => {
  test("a changed http is reported as needing a restart; the dashboard keeps serving where it was", async () => {
    await using d = await startDaemon({ config: config('http = "127.0.0.1:0"') });
    const port = httpPort(d.home);
    writeFileSync(join(d.home, "crabtalk.toml"), config('http = "127.0.0.1:6689"'));
    const r = await runCli(["reload", "--json"], homeEnv(d.home));
    expect(JSON.parse(r.stdout).needsRestart).toContain("daemon.http");
    expect((await fetch(`http://127.0.0.1:${port}/login`)).status).toBe(200);
  });
});
