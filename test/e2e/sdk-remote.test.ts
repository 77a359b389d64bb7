/**
 * @crabtalk/client against a remote-style daemon (every interface, TLS from
 * `crabtalk tls init`, tokens from `crabtalk token create`): with the pinned
 * fingerprint and a token it streams a turn; another certificate's
 * fingerprint is refused before anything is sent; a wrong or missing token
 * is the typed Unauthorized error. Runs the package's sources under Bun (the
 * bundle is the same code; sdk-typescript.test.ts runs it under Node).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { CertificateRefused, CrabtalkClient, Unauthorized } from "../../sdk/typescript/src/index.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { createToken, remoteConfig, tlsInit } from "./remote-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let home: string;
let fingerprint: string;
let token: string;

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route(() => sseReply(openaiSse({ model: "fake-model", text: "hello over tls" })));
  home = tempHome("crabtalk-sdk-tls-");
  fingerprint = await tlsInit(home);
  token = await createToken(home, "sdk", "chat");
  d = await startDaemon({ home, config: remoteConfig(home, fake.url) });
}, 60_000);
afterAll(async () => {
  await d?.cleanup();
  await fake?.stop();
});

const tcp = () => `127.0.0.1:${d.tcpPort()}`;

test("pinned TLS and a token: a turn streams", async () => {
  const client = await CrabtalkClient.connect({ home, tcp: tcp(), tls: true, fingerprint, token });
  let text = "";
  let stop = "";
  for await (const event of client.stream("crab", "hi")) {
    if (event.chunk) text += event.chunk.content;
    if (event.end) stop = event.end.stopReason;
  }
  client.close();
  expect(text).toBe("hello over tls");
  expect(stop).toBe("stop");
});

test("another certificate's fingerprint is refused", async () => {
  const other = await tlsInit(home, join(home, "other-tls"));
  const err = await CrabtalkClient.connect({ home, tcp: tcp(), tls: true, fingerprint: other, token }).catch((e) => e);
  expect(err).toBeInstanceOf(CertificateRefused);
  expect(String(err.message)).toContain(other.replace(/:/g, "").toLowerCase());
});

test("a wrong token is Unauthorized at connect", async () => {
  const err = await CrabtalkClient.connect({ home, tcp: tcp(), tls: true, fingerprint, token: "ct_wrong" }).catch(
    (e) => e,
  );
  expect(err).toBeInstanceOf(Unauthorized);
  expect(err.code).toBe(401);
});
