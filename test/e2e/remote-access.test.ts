/**
 * Remote access against the compiled binary over real TCP: the start-up
 * rule for a non-loopback bind, the scope table over every request kind,
 * --agents isolation, and wrong, expired and revoked-while-connected tokens.
 * The daemon listens on 0.0.0.0 (so every TCP client must authenticate,
 * even from 127.0.0.1) with TLS from `crabtalk tls init`.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CrabtalkClient, DaemonError } from "../../src/client/client.ts";
import { mintToken, readTokens, type Scope, tokensFileIn, writeTokens } from "../../src/config/tokens.ts";
import type { ClientMessage, ServerMessage } from "../../src/protocol/gen/crabtalk.ts";
import type { Init } from "../../src/protocol/codec.ts";
import { SCOPE_OF, type RequestKind } from "../../src/daemon/router.ts";
import { binaryPath, runCli, startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, gate, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { createToken, homeEnv, remoteConfig, tlsInit, waitForLog } from "./remote-kit.ts";

setDefaultTimeout(60_000);

let fake: FakeProvider;
let d: DaemonHandle;
let home: string;
let fingerprint: string;
const tokens: Record<string, string> = {};

function connect(token: string | undefined): Promise<CrabtalkClient> {
  return CrabtalkClient.connect({ home, tcp: `127.0.0.1:${d.tcpPort()}`, tls: true, fingerprint, token });
}

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route(() => sseReply(openaiSse({ text: "hello from afar" })));
  home = tempHome("crabtalk-remote-");
  fingerprint = await tlsInit(home);
  for (const scope of ["read", "chat", "admin"]) tokens[scope] = await createToken(home, scope, scope);
  tokens.crabonly = await createToken(home, "crabonly", "chat", ["--agents", "crab"]);
  d = await startDaemon({ home, config: remoteConfig(home, fake.url) });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
  rmSync(home, { recursive: true, force: true });
});

describe("start-up", () => {
  test("a non-loopback tcp without tokens is refused, naming the fix; nothing listens", async () => {
    const bare = tempHome();
    try {
      writeFileSync(join(bare, "crabtalk.toml"), '[daemon]\ntcp = "0.0.0.0:0"\n');
      const proc = Bun.spawn([binaryPath(), "daemon"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...homeEnv(bare) },
        stdout: "ignore",
        stderr: "pipe",
        timeout: 10_000,
      });
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      expect(code).toBe(1);
      expect(stderr).toContain("is not a loopback address");
      expect(stderr).toContain("holds no tokens");
      expect(stderr).toContain("crabtalk token create");
      expect(existsSync(join(bare, "crabtalk.sock"))).toBe(false);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

/** A body for each kind that passes the gate without changing anything the other tests rely on. */
function requestOf(kind: RequestKind): Init<ClientMessage> {
  const bodies: Partial<Record<RequestKind, unknown>> = {
    setConfig: { config: "this is = [not toml" },
    send: { agent: "nobody", content: "x" },
    stream: { agent: "nobody", content: "x" },
    kill: { session: 999_999 },
    deleteSession: { session: 999_999 },
    compact: { session: 999_999 },
    attach: { session: 999_999 },
    getHistory: { session: 999_999 },
    cancel: { session: 999_999 },
    restartService: { service: "none" },
    mcpCall: { server: "none", tool: "none" },
  };
  return { [kind]: bodies[kind] ?? {} } as Init<ClientMessage>;
}

/** Kinds whose first reply waits for something to happen (an event, a task). */
const OPEN_STREAMS = new Set<RequestKind>(["subscribeEvents", "subscribeTasks"]);

function judged(err: unknown): string {
  if (err instanceof DaemonError && (err.code === 403 || err.code === 401) && /needs the \w+ scope/.test(err.message))
    return `refused: ${err.message}`;
  if (err instanceof DaemonError) return "allowed";
  throw err;
}

/**
 * "allowed" when the request got past the gate (any reply, or any error but
 * the gate's 403). An open stream is judged by a ping sent after it on the
 * same connection: the gate answers before the handler runs, so a refusal
 * arrives before the pong.
 */
async function outcome(client: CrabtalkClient, kind: RequestKind): Promise<string> {
  if (OPEN_STREAMS.has(kind)) {
    const stop = new AbortController();
    let refused: string | null = null;
    const stream = (async () => {
      for await (const _ of client.stream(requestOf(kind), { signal: stop.signal })) break;
    })().catch((err) => {
      if (!stop.signal.aborted) refused = judged(err);
    });
    await client.request({ ping: {} });
    const verdict = refused ?? "allowed";
    stop.abort();
    await stream;
    return verdict;
  }
  try {
    await client.request(requestOf(kind));
    return "allowed";
  } catch (err) {
    return judged(err);
  }
}

describe("scopes", () => {
  test("the table puts the issue's kinds where it says", () => {
    for (const k of ["status", "sessions", "getHistory", "attach", "subscribeEvents", "usage"] as const)
      expect(`${k}=${SCOPE_OF[k]}`).toBe(`${k}=read`);
    for (const k of ["send", "stream", "cancel", "approve"] as const) expect(`${k}=${SCOPE_OF[k]}`).toBe(`${k}=chat`);
    for (const k of ["getConfig", "setConfig", "reload", "kill", "deleteSession", "restartService", "mcpCall"] as const)
      expect(`${k}=${SCOPE_OF[k]}`).toBe(`${k}=admin`);
  });

  const rank: Record<Scope, number> = { read: 0, chat: 1, admin: 2 };
  const kinds = (Object.keys(SCOPE_OF) as RequestKind[]).filter((k) => k !== "auth" && k !== "unsubscribe");
  for (const scope of ["read", "chat", "admin"] as Scope[]) {
    test(`a ${scope} token: every request kind allowed or refused with 403 naming the scope`, async () => {
      const client = await connect(tokens[scope]);
      try {
        const results = await Promise.all(kinds.map(async (kind) => [kind, await outcome(client, kind)] as const));
        for (const [kind, result] of results) {
          const needed = SCOPE_OF[kind];
          if (rank[scope] >= rank[needed]) expect(`${kind}: ${result}`).toBe(`${kind}: allowed`);
          else
            expect(`${kind}: ${result}`).toBe(
              `${kind}: refused: "${kind}" needs the ${needed} scope; token "${scope}" has ${scope}`,
            );
        }
      } finally {
        client.close();
      }
    });
  }

  test("without a token, the first request answers 401 and the connection closes", async () => {
    const client = await connect(undefined);
    const err = await client.request({ ping: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe(401);
    expect((err as DaemonError).message).toContain("send Auth{token} as the first frame");
    await client.closedPromise;
  });
});

async function turn(client: CrabtalkClient, agent: string): Promise<number> {
  const reply = await client.request({ send: { agent, content: `hi ${agent}` } });
  return Number(reply.response?.session ?? 0);
}

describe("--agents", () => {
  test("a token limited to crab sees only crab's sessions and events", async () => {
    const owner = await d.client();
    const limited = await connect(tokens.crabonly);
    try {
      const events: NonNullable<ServerMessage["event"]>[] = [];
      const sub = (async () => {
        for await (const r of limited.stream({ subscribeEvents: {} })) {
          if (r.event) events.push(r.event);
          if (r.event?.agent === "crab" && r.event.kind === "end") break;
        }
      })();
      // Subscribed once a request after it on the same connection has been answered.
      await limited.request({ ping: {} });
      const owl = await turn(owner, "owl");
      const crab = await turn(owner, "crab");
      await sub;
      expect(events.length).toBeGreaterThan(0);
      expect(new Set(events.map((e) => e.agent))).toEqual(new Set(["crab"]));

      const list = await limited.request({ sessions: {} });
      const seen = (list.sessions?.sessions ?? []).map((s) => Number(s.id));
      expect(seen).toContain(crab);
      expect(seen).not.toContain(owl);
      const hidden = await limited.request({ getHistory: { session: owl } }).catch((e) => e);
      expect((hidden as DaemonError).code).toBe(404);
      const attach = await limited.request({ attach: { session: owl } }).catch((e) => e);
      expect((attach as DaemonError).code).toBe(404);
      const talk = await limited.request({ send: { agent: "owl", content: "x" } }).catch((e) => e);
      expect((talk as DaemonError).code).toBe(403);
      expect((await limited.request({ getHistory: { session: crab } })).history?.agent).toBe("crab");
    } finally {
      owner.close();
      limited.close();
    }
  });
});

/** Starts a turn held by the fake provider; resolves with its session once StreamStart arrives. */
async function heldTurn(
  client: CrabtalkClient,
  release: Promise<void>,
): Promise<{ session: number; done: Promise<unknown> }> {
  fake.enqueue(sseReply(openaiSse({ text: "late" }), { gate: release }));
  const stream = client.stream({ stream: { agent: "crab", content: "hold" } })[Symbol.asyncIterator]();
  const first = await stream.next();
  const session = Number(first.value?.stream?.start?.session ?? 0);
  const done = (async () => {
    while (!(await stream.next()).done);
  })().catch((e) => e);
  return { session, done };
}

describe("chat tokens and turns", () => {
  test("a chat token cancels its own turn, but not a turn someone else started (403)", async () => {
    const owner = await d.client();
    const chatClient = await connect(tokens.chat);
    try {
      const ownersGate = gate();
      const theirs = await heldTurn(owner, ownersGate.promise);
      const refused = await chatClient.request({ cancel: { session: theirs.session } }).catch((e) => e);
      expect((refused as DaemonError).code).toBe(403);
      expect((refused as DaemonError).message).toContain('token "chat" may cancel only turns it started');
      ownersGate.release();
      await theirs.done;

      const mineGate = gate();
      const mine = await heldTurn(chatClient, mineGate.promise);
      const ack = await chatClient.request({ cancel: { session: mine.session } });
      expect(ack.msg).not.toBe("error");
      mineGate.release();
      await mine.done;
    } finally {
      owner.close();
      chatClient.close();
    }
  });
});

describe("tokens", () => {
  test("a wrong token answers 401 and closes; the log names the claimed token, never the token", async () => {
    const wrong = `crabtalk_chat_${"A".repeat(43)}`;
    const err = await connect(wrong).catch((e) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe(401);
    await waitForLog(d.stderr, 'token name "chat"');
    expect(d.stderr()).not.toContain(wrong);
  });

  test("an expired token answers 401 saying so", async () => {
    const file = tokensFileIn(home);
    const { token, record } = mintToken("old", "read", null, Date.now() - 1000);
    writeTokens(file, [...readTokens(file), record]);
    const err = await connect(token).catch((e) => e);
    expect((err as DaemonError).code).toBe(401);
    expect((err as DaemonError).message).toContain('token "old" expired');
  });

  test("revoking a token closes its open connection and ends its stream", async () => {
    const token = await createToken(home, "doomed", "read");
    const client = await connect(token);
    expect((await client.request({ ping: {} })).pong).toBeDefined();
    const stream = (async () => {
      for await (const _ of client.stream({ subscribeEvents: {} })) void _;
    })().catch((e) => e);
    await client.request({ status: {} });
    const r = await runCli(["token", "revoke", "doomed"], homeEnv(home));
    expect(r.code).toBe(0);
    await client.closedPromise;
    const ended = await stream;
    expect(ended === undefined || ended instanceof Error).toBe(true);
    await waitForLog(d.stderr, 'closing a connection of token "doomed"');
    const again = await connect(token).catch((e) => e);
    expect((again as DaemonError).code).toBe(401);
  });

  test("a token revoked and created again under its name (here with another scope) closes the old token's connection", async () => {
    const token = await createToken(home, "reborn", "admin");
    const client = await connect(token);
    expect((await client.request({ ping: {} })).pong).toBeDefined();
    // Revoked and created again in one write, so no sweep can see the name missing in between:
    // same name, another token, and the old connection must not keep the old admin scope.
    const file = tokensFileIn(home);
    const { token: fresh, record } = mintToken("reborn", "read", null, null);
    writeTokens(file, [...readTokens(file).filter((t) => t.name !== "reborn"), record]);
    await client.closedPromise;
    await waitForLog(d.stderr, 'closing a connection of token "reborn"');
    const old = await connect(token).catch((e) => e);
    expect((old as DaemonError).code).toBe(401);
    const next = await connect(fresh);
    expect((await next.request({ ping: {} })).pong).toBeDefined();
    next.close();
  });
});
