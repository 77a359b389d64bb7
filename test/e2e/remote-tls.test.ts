/**
 * TLS and brute force against the compiled binary over real TCP: a
 * certificate made by `crabtalk tls init` connects when pinned, a different
 * one is refused (by --fingerprint and by known_hosts), a plain-TCP client
 * gets nothing useful; send, attach and events work remotely with a token
 * over TLS; 200 wrong attempts from ::1 are slowed and then banned while a
 * correct client from 127.0.0.1 is served.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateRefused, CrabtalkClient, DaemonError } from "../../src/client/client.ts";
import { clientMessage } from "../../src/protocol/codec.ts";
import type { ServerMessage } from "../../src/protocol/gen/crabtalk.ts";
import { encodeFrame } from "../../src/transport/framing.ts";
import { runCli, startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { BAN_AFTER } from "../../src/daemon/auth.ts";
import { AUTH_DEADLINE_MS } from "../../src/daemon/remote.ts";
import { createToken, homeEnv, remoteConfig, tlsInit, waitForLog } from "./remote-kit.ts";

setDefaultTimeout(90_000);

let fake: FakeProvider;
let d: DaemonHandle;
let home: string;
let fingerprint: string;
let chat: string;

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route(() => sseReply(openaiSse({ text: "hello from afar" })));
  home = tempHome("crabtalk-tls-");
  fingerprint = await tlsInit(home);
  chat = await createToken(home, "laptop", "chat");
  d = await startDaemon({ home, config: remoteConfig(home, fake.url) });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
  rmSync(home, { recursive: true, force: true });
});

const addr = () => `127.0.0.1:${d.tcpPort()}`;

describe("TLS", () => {
  test("tls init prints the SHA-256 of the certificate it wrote", () => {
    const { X509Certificate } = require("node:crypto") as typeof import("node:crypto");
    const cert = new X509Certificate(readFileSync(join(home, "tls", "cert.pem")));
    expect(fingerprint).toBe(cert.fingerprint256);
  });

  test("the pinned fingerprint connects; a different certificate's is refused before the token is sent", async () => {
    const ok = await CrabtalkClient.connect({ home, tcp: addr(), tls: true, fingerprint, token: chat });
    expect((await ok.request({ ping: {} })).pong).toBeDefined();
    ok.close();
    const other = await tlsInit(home, join(home, "other-tls"));
    expect(other).not.toBe(fingerprint);
    const err = await CrabtalkClient.connect({ home, tcp: addr(), tls: true, fingerprint: other, token: chat }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(CertificateRefused);
    expect((err as Error).message).toContain("not the pinned");
    await waitForLog(d.stderr, 'authenticated as token "laptop"');
    expect(d.stderr().match(/authenticated as token "laptop"/g)?.length).toBe(1);
  });

  test("trust on first use: known_hosts keeps the fingerprint, and a changed one is refused loudly", async () => {
    const knownHosts = join(home, "kh-test");
    const first = await CrabtalkClient.connect({ home, tcp: addr(), tls: true, knownHosts, token: chat });
    first.close();
    const saved = readFileSync(knownHosts, "utf8");
    expect(saved).toBe(`${addr()} ${fingerprint.replace(/:/g, "").toLowerCase()}\n`);
    const again = await CrabtalkClient.connect({ home, tcp: addr(), tls: true, knownHosts, token: chat });
    again.close();
    writeFileSync(knownHosts, `${addr()} ${"ab".repeat(32)}\n`);
    const err = await CrabtalkClient.connect({ home, tcp: addr(), tls: true, knownHosts, token: chat }).catch((e) => e);
    expect(err).toBeInstanceOf(CertificateRefused);
    expect((err as Error).message).toContain("HAS CHANGED");
    expect((err as Error).message).toContain(`${knownHosts} line 1`);
  });

  test("a plain-TCP client gets nothing useful: no reply decodes, the connection closes", async () => {
    const chunks: Uint8Array[] = [];
    const { promise: closed, resolve } = Promise.withResolvers<void>();
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: d.tcpPort(),
      socket: {
        data: (_s, chunk) => void chunks.push(new Uint8Array(chunk)),
        close: () => resolve(),
        error: () => resolve(),
      },
    });
    socket.write(encodeFrame(clientMessage.encode({ ping: {} })));
    socket.write(encodeFrame(clientMessage.encode({ auth: { token: chat } })));
    await closed;
    const text = Buffer.concat(chunks).toString("latin1");
    expect(text).not.toContain("0.1.0");
    expect(text).not.toContain("authenticated");
  });

  test("a connection that never authenticates is closed with 401 after the deadline", async () => {
    const started = Date.now();
    const silent = await CrabtalkClient.connect({ home, tcp: addr(), tls: true, fingerprint });
    await silent.closedPromise;
    expect(Date.now() - started).toBeGreaterThanOrEqual(AUTH_DEADLINE_MS - 100);
    await waitForLog(d.stderr, "did not authenticate within");
  });

  test("send, attach and events work remotely with a token over TLS", async () => {
    const client = await CrabtalkClient.connect({ home, tcp: addr(), tls: true, fingerprint, token: chat });
    try {
      const events: NonNullable<ServerMessage["event"]>[] = [];
      const sub = (async () => {
        for await (const r of client.stream({ subscribeEvents: {} })) {
          if (r.event) events.push(r.event);
          if (r.event?.kind === "end") break;
        }
      })();
      await client.request({ ping: {} });
      const r = await runCli(
        ["--tcp", addr(), "--tls", "--fingerprint", fingerprint, "--token", chat, "send", "--agent", "crab", "hi"],
        homeEnv(home),
      );
      expect(r.stderr).toBe("");
      expect(r.stdout).toContain("hello from afar");
      await sub;
      const session = Number(events[0]!.session);
      expect(events.map((e) => e.kind)).toContain("chunk");
      const replies: ServerMessage[] = [];
      for await (const reply of client.stream({ attach: { session, afterSeq: 0 } })) {
        replies.push(reply);
        if (reply.event?.kind === "end" || reply.stream?.end) break;
      }
      expect(replies[0]?.attached).toBeDefined();
      expect(replies.map((x) => x.stream?.chunk?.content ?? "").join("")).toBe("hello from afar");
    } finally {
      client.close();
    }
  });
});

describe("brute force", () => {
  test("200 wrong attempts from ::1 are slowed, then banned, while 127.0.0.1 is served", async () => {
    const bfHome = tempHome("crabtalk-bf-");
    const token = await createToken(bfHome, "good", "read");
    const b = await startDaemon({
      home: bfHome,
      config: remoteConfig(bfHome, fake.url, { tcp: "[::]:0", tls: false }),
    });
    try {
      const good = await CrabtalkClient.connect({ home: bfHome, tcp: `127.0.0.1:${b.tcpPort()}`, token });
      const wrong = `crabtalk_evil_${"x".repeat(43)}`;
      const codes: number[] = [];
      const started = Date.now();
      let slowedMs = 0;
      for (let i = 0; i < 200; i++) {
        const err = await CrabtalkClient.connect({ home: bfHome, tcp: `[::1]:${b.tcpPort()}`, token: wrong }).catch(
          (e) => e,
        );
        codes.push(err instanceof DaemonError ? err.code : -1);
        if (i === BAN_AFTER - 1) slowedMs = Date.now() - started;
        if (i % 50 === 0) expect((await good.request({ ping: {} })).pong).toBeDefined();
      }
      expect(codes.slice(0, BAN_AFTER)).toEqual(Array(BAN_AFTER).fill(401));
      expect(codes.slice(BAN_AFTER)).toEqual(Array(200 - BAN_AFTER).fill(429));
      // 25 ms doubling to at most 2 s over the first nine failures: 7.2 s before the ban.
      expect(slowedMs).toBeGreaterThan(5000);
      const fresh = await CrabtalkClient.connect({ home: bfHome, tcp: `127.0.0.1:${b.tcpPort()}`, token });
      const status = (await fresh.request({ status: {} })).status!;
      expect(Number(status.authFailures)).toBe(BAN_AFTER);
      expect(status.bannedAddresses).toEqual(["::1"]);
      fresh.close();
      good.close();
      await waitForLog(b.stderr, "banning ::1");
      expect(b.stderr()).toContain('failed authentication from ::1 (token name "evil")');
      expect(b.stderr()).not.toContain(wrong);
    } finally {
      await b.cleanup();
      rmSync(bfHome, { recursive: true, force: true });
    }
  });
});
