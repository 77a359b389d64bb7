/**
 * The dashboard's server half through the compiled daemon, without a
 * browser: `[daemon] http` off by default; the one-time login link and its
 * cookie; Host and Origin checks; the WebSocket bridge carrying the socket
 * protocol (ping, a streamed turn, pending approvals answered from the
 * bridge, a token's scope); and a cookie that survives a daemon restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { runCli, startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";
import { turnConfig } from "../helpers/turn-kit.ts";
import { BridgeClient, openLink, sessionCookie } from "../helpers/ws-bridge.ts";
import { brain } from "./cli-kit.ts";
import { createToken, homeEnv } from "./remote-kit.ts";

/** A port free right now (the daemon binds it next; a fixed port lets the cookie's name survive a restart). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let fake: FakeProvider;
let home: string;
let port: number;
let d: DaemonHandle;
let base: string;
let readToken: string;
let chatToken: string;

function config(): string {
  return turnConfig(fake.url, "", `http = "127.0.0.1:${port}"`).concat('\n[permissions]\nbash = "ask"\n');
}

async function login(): Promise<string> {
  const r = await runCli(["dashboard", "--json"], homeEnv(home));
  expect(r.code).toBe(0);
  const { url } = JSON.parse(r.stdout) as { url: string };
  return sessionCookie(await openLink(url));
}

function bridge(cookie: string, origin = base): Promise<BridgeClient> {
  return BridgeClient.open(`ws://127.0.0.1:${port}/ws`, { Cookie: cookie, Origin: origin });
}

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route(brain);
  home = tempHome();
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  readToken = await createToken(home, "viewer", "read");
  chatToken = await createToken(home, "helper", "chat");
  d = await startDaemon({ home, config: config() });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

describe("configuration", () => {
  test("http is off by default: no port file, status says so, crabtalk dashboard explains how to switch it on", async () => {
    await using plain = await startDaemon({ config: turnConfig(fake.url) });
    expect(existsSync(join(plain.home, "crabtalk.http"))).toBe(false);
    const status = await runCli(["status", "--json"], homeEnv(plain.home));
    expect(JSON.parse(status.stdout).httpUrl).toBe("");
    const r = await runCli(["dashboard", "--no-open"], homeEnv(plain.home));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('http = "127.0.0.1:6689"');
  });

  test("when on: the bound port is in crabtalk.http and status shows the address", async () => {
    expect(readFileSync(join(home, "crabtalk.http"), "utf8").trim()).toBe(String(port));
    const status = await runCli(["status"], homeEnv(home));
    expect(status.stdout).toContain(`http      ${base}`);
  });
});

describe("login", () => {
  test("the link works once: an HttpOnly, SameSite=Strict cookie and a redirect to /; a second use is refused", async () => {
    const r = await runCli(["dashboard", "--no-open"], homeEnv(home));
    expect(r.code).toBe(0);
    const url = r.stdout.trim();
    expect(url).toStartWith(`${base}/login?token=`);
    const first = await openLink(url);
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/");
    const set = first.headers.get("set-cookie")!;
    expect(set).toContain("HttpOnly");
    expect(set).toContain("SameSite=Strict");
    expect(set).toContain("Path=/");
    expect(set).not.toContain("Secure"); // plain HTTP on loopback
    const page = await fetch(base, { headers: { Cookie: sessionCookie(first) }, redirect: "manual" });
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(await page.text()).toContain("<html");

    const second = await openLink(url);
    expect(second.status).toBe(401);
    expect(second.headers.get("set-cookie")).toBeNull();
    expect(await second.text()).toContain("already used or has expired");
  });

  test("without a cookie / redirects to the login page, and files and /ws are refused", async () => {
    const root = await fetch(base, { redirect: "manual" });
    expect(root.status).toBe(303);
    expect(root.headers.get("location")).toBe("/login");
    const form = await fetch(`${base}/login`);
    expect(form.status).toBe(200);
    expect(await form.text()).toContain('<form method="post" action="/login">');
    expect((await fetch(`${base}/ws`, { headers: { Origin: base } })).status).toBe(401);
    await expect(BridgeClient.open(`ws://127.0.0.1:${port}/ws`, { Origin: base })).rejects.toThrow("did not open");
  });

  test("a remote token pasted on the login page logs in with that token", async () => {
    const res = await fetch(`${base}/login`, {
      method: "POST",
      headers: { Origin: base, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: readToken }),
      redirect: "manual",
    });
    expect(res.status).toBe(303);
    const wrong = await fetch(`${base}/login`, {
      method: "POST",
      headers: { Origin: base, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: "crabtalk_viewer_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }),
      redirect: "manual",
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("authentication failed");
  });
});

describe("logout", () => {
  test("POST /logout from the page ends the session: the cookie opens nothing afterwards", async () => {
    const cookie = await login();
    const out = await fetch(`${base}/logout`, {
      method: "POST",
      headers: { Origin: base, Cookie: cookie },
      redirect: "manual",
    });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/login");
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    const after = await fetch(base, { headers: { Cookie: cookie }, redirect: "manual" });
    expect(after.status).toBe(303);
    await expect(bridge(cookie)).rejects.toThrow("did not open");
  });
});

describe("Host and Origin", () => {
  test("a wrong Host is refused with 421; localhost on the same port is the same dashboard", async () => {
    const cookie = await login();
    const evil = await fetch(base, { headers: { Host: `evil.example:${port}`, Cookie: cookie }, redirect: "manual" });
    expect(evil.status).toBe(421);
    expect(await evil.text()).toContain(`answers only to ${base}`);
    const otherPort = await fetch(base, { headers: { Host: `127.0.0.1:${port + 1}` }, redirect: "manual" });
    expect(otherPort.status).toBe(421);
    const local = await fetch(`http://localhost:${port}/`, { headers: { Cookie: cookie }, redirect: "manual" });
    expect(local.status).toBe(200);
  });

  test("a foreign Origin is refused on POST and on the WebSocket upgrade", async () => {
    const cookie = await login();
    const post = await fetch(`${base}/logout`, {
      method: "POST",
      headers: { Origin: "http://evil.example", Cookie: cookie },
      redirect: "manual",
    });
    expect(post.status).toBe(403);
    const noOrigin = await fetch(`${base}/logout`, { method: "POST", headers: { Cookie: cookie }, redirect: "manual" });
    expect(noOrigin.status).toBe(403);
    const upgrade = await fetch(`${base}/ws`, {
      headers: {
        Cookie: cookie,
        Origin: "http://evil.example",
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      },
    });
    expect(upgrade.status).toBe(403);
    await expect(bridge(cookie, "http://evil.example")).rejects.toThrow("did not open");
    // The same cookie from the dashboard's own origin is let in: the refusals above were the Origin's.
    const ok = await bridge(cookie);
    expect((await ok.request({ ping: {} })).pong).toBeDefined();
    ok.close();
  });
});

describe("the bridge", () => {
  test("Ping and a streamed turn: one binary frame per message, request ids echoed", async () => {
    const ws = await bridge(await login());
    const pong = await ws.request({ ping: {} });
    expect(pong.pong!.version).toBeTruthy();
    const events: string[] = [];
    let text = "";
    for await (const r of ws.stream({ stream: { agent: "crab", content: "hello there" } }, (m) => !!m.stream?.end)) {
      expect(r.error).toBeUndefined();
      events.push(r.stream!.event ?? "?");
      text += r.stream!.chunk?.content ?? "";
    }
    expect(events[0]).toBe("start");
    expect(events.at(-1)).toBe("end");
    expect(text).toBe("echo: hello there");
    const sent = await ws.request({ send: { agent: "crab", content: "once more" } });
    expect(sent.response!.content).toBe("echo: once more");
    ws.close();
  });

  test("Unsubscribe ends a stream of this connection by its request id", async () => {
    const ws = await bridge(await login());
    const events = ws.stream({ subscribeEvents: {} }, () => false);
    void events.next();
    const ack = await ws.request({ unsubscribe: { requestId: 1 } });
    expect(ack.ack!.message).toBe("stream 1 ended");
    const none = await ws.request({ unsubscribe: { requestId: 1 } });
    expect(none.ack!.message).toBe("no stream 1 on this connection");
    ws.close();
  });

  test("a text message or a malformed frame answers ErrorMsg 400 and the connection stays usable", async () => {
    const ws = await bridge(await login());
    ws.sendRaw("hello");
    ws.sendRaw(new Uint8Array([0xff, 0xff, 0xff]));
    const pong = await ws.request({ ping: {} });
    expect(pong.pong).toBeDefined();
    expect(ws.unsolicited.map((m) => m.error?.code)).toEqual([400, 400]);
    ws.close();
  });

  test("a prompt of a CLI turn is listed as pending and approved over the bridge; the turn goes on", async () => {
    const ws = await bridge(await login());
    const marker = join(home, "work", "from-dashboard.marker");
    const cli = await d.client();
    const turn = (async () => {
      const events: string[] = [];
      for await (const r of cli.stream({ stream: { agent: "crab", content: "run touch from-dashboard.marker" } }))
        if (r.stream) events.push(r.stream.event ?? "?");
      return events;
    })();
    let pending: NonNullable<Awaited<ReturnType<typeof ws.request>>["pendingApprovals"]>["approvals"] = [];
    const deadline = Date.now() + 10_000;
    while (pending.length === 0 && Date.now() < deadline)
      pending = (await ws.request({ pendingApprovals: {} })).pendingApprovals!.approvals;
    expect(pending).toHaveLength(1);
    const ask = pending[0]!;
    expect(ask.agent).toBe("crab");
    expect(ask.tool).toBe("bash");
    expect(JSON.parse(ask.arguments)).toEqual({ command: "touch from-dashboard.marker" });
    expect(ask.askedAtMs).toBeGreaterThan(Date.now() - 60_000);
    expect(Number(ask.timeoutMs)).toBe(1500);
    expect((await ws.request({ pendingApprovals: { agent: "owl" } })).pendingApprovals!.approvals).toEqual([]);
    // A chat token answers only prompts of turns it started; the owner's page answers any.
    const helper = await BridgeClient.open(`ws://127.0.0.1:${port}/ws`, { Authorization: `Bearer ${chatToken}` });
    const foreign = await helper.request({ approve: { callId: ask.callId, session: ask.session, response: "deny" } });
    expect(foreign.error!.code).toBe(403);
    expect(foreign.error!.message).toContain("only turns it started");
    helper.close();
    const ack = await ws.request({ approve: { callId: ask.callId, session: ask.session, response: "allow" } });
    expect(ack.ack!.message).toContain("allowed");
    const events = await turn;
    cli.close();
    expect(events).toContain("toolResult");
    expect(events.at(-1)).toBe("end");
    expect(existsSync(marker)).toBe(true);
    expect((await ws.request({ pendingApprovals: {} })).pendingApprovals!.approvals).toEqual([]);
    const again = await ws.request({ approve: { callId: ask.callId, session: ask.session, response: "deny" } });
    expect(again.error!.code).toBe(404);
    ws.close();
  });

  test('a turn whose approver is "client:dashboard" asks the open dashboard, which answers it', async () => {
    const ws = await bridge(await login());
    // SubscribeEvents without a client name: the bridge names the connection "dashboard".
    const events = ws.stream({ subscribeEvents: {} }, (m) => !!m.event?.payload?.approval);
    const ready = await ws.request({ ping: {} });
    expect(ready.pong).toBeDefined();
    const cli = await d.client();
    const reply = cli.request({
      send: { agent: "crab", content: "run echo asked-the-dashboard", approver: "client:dashboard" },
    });
    let ask: { callId: string; session: number } | undefined;
    for await (const m of events) ask ??= m.event?.payload?.approval;
    expect(ask).toBeDefined();
    const ack = await ws.request({ approve: { callId: ask!.callId, session: ask!.session, response: "allow" } });
    expect(ack.ack).toBeDefined();
    expect((await reply).response!.content).toContain("ran it: asked-the-dashboard");
    cli.close();
    ws.close();
  });

  test("closing the WebSocket ends its streams and frees its connection slot", async () => {
    const connections = async () => JSON.parse((await runCli(["status", "--json"], homeEnv(home))).stdout).connections;
    const idle = await connections();
    const ws = await bridge(await login());
    void ws.stream({ subscribeEvents: {} }, () => false).next();
    expect((await ws.request({ ping: {} })).pong).toBeDefined();
    expect(await connections()).toBe(idle + 1);
    ws.close();
    await ws.closed();
    const deadline = Date.now() + 5000;
    while ((await connections()) !== idle && Date.now() < deadline) await Bun.sleep(20);
    expect(await connections()).toBe(idle);
  });

  test("a read token is limited over the bridge: it sees, it cannot start a turn or mint a login", async () => {
    const ws = await BridgeClient.open(`ws://127.0.0.1:${port}/ws`, { Authorization: `Bearer ${readToken}` });
    expect((await ws.request({ ping: {} })).pong).toBeDefined();
    expect((await ws.request({ sessions: {} })).sessions).toBeDefined();
    const refused = await ws.request({ stream: { agent: "crab", content: "hi" } });
    expect(refused.error!.code).toBe(403);
    expect(refused.error!.message).toContain("needs the chat scope");
    expect((await ws.request({ dashboardLogin: {} })).error!.code).toBe(403);
    ws.close();
  });

  test("a wrong bearer token gets no bridge", async () => {
    const res = await fetch(`${base}/ws`, { headers: { Authorization: "Bearer crabtalk_viewer_nope" } });
    expect(res.status).toBe(401);
  });
});

describe("restart", () => {
  test("the cookie survives a daemon restart; sessions are stored hashed, owner-only", async () => {
    const cookie = await login();
    const before = await bridge(cookie);
    expect((await before.request({ ping: {} })).pong).toBeDefined();
    expect(await d.stop()).toBe(0);
    expect((await before.closed()).code).toBeGreaterThan(0);
    d = await startDaemon({ home, config: config() });
    const after = await bridge(cookie);
    expect((await after.request({ ping: {} })).pong).toBeDefined();
    after.close();
    const file = join(home, "dashboard-sessions.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).not.toContain(cookie.split("=")[1]!);
  });
});
