/**
 * The dashboard's carrier: ClientCore over a real WebSocket (Bun's client
 * against a Bun.serve server) with the browser codec — one binary message
 * per frame, requests answered, a dropped socket fails pending requests as
 * Disconnected, and a refused upgrade rejects the open.
 */
import { afterAll, expect, test } from "bun:test";
import { ClientCore } from "../../src/client/core.ts";
import { Disconnected } from "../../src/client/errors.ts";
import { clientMessage, serverMessage } from "../../src/protocol/codec.ts";
import { bridgeUrl, openWsPipe } from "../../src/web/ws-pipe.ts";

const WIRE = { encode: clientMessage.encode, decode: serverMessage.decode };
const frames: Uint8Array[] = [];

/** Answers ping with pong; "status" never (so a drop can be seen failing it); refuses /nope. */
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req, srv) {
    if (new URL(req.url).pathname !== "/ws") return new Response("no", { status: 403 });
    return srv.upgrade(req) ? undefined : new Response("upgrade failed", { status: 400 });
  },
  websocket: {
    message(ws, data) {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
      frames.push(bytes);
      const msg = clientMessage.decode(bytes);
      if (msg.ping)
        ws.sendBinary(serverMessage.encode({ requestId: msg.requestId, pong: { version: "t", protocolVersion: 1 } }));
      if (msg.status) ws.close(1011, "going away");
    },
  },
});
afterAll(() => server.stop(true));
const url = `ws://127.0.0.1:${server.port}/ws`;

test("requests go out one frame per binary message, and replies come back", async () => {
  const client = ClientCore.fromPipe(await openWsPipe(url), WIRE);
  const [a, b] = await Promise.all([client.request({ ping: {} }), client.request({ ping: {} })]);
  expect(a.pong?.version).toBe("t");
  expect(b.pong?.protocolVersion).toBe(1);
  // Each message decodes on its own: no length prefix, no batching.
  expect(frames.slice(-2).map((f) => clientMessage.decode(f).msg)).toEqual(["ping", "ping"]);
  client.close();
  await client.closedPromise;
});

test("a dropped socket fails what is pending with Disconnected", async () => {
  const client = ClientCore.fromPipe(await openWsPipe(url), WIRE);
  await expect(client.request({ status: {} })).rejects.toBeInstanceOf(Disconnected);
  expect(client.isClosed).toBe(true);
});

test("a refused upgrade rejects the open", async () => {
  await expect(openWsPipe(`ws://127.0.0.1:${server.port}/nope`)).rejects.toThrow(/closed/);
});

test("the bridge URL follows the page's scheme and host", () => {
  expect(bridgeUrl({ protocol: "http:", host: "127.0.0.1:6689" })).toBe("ws://127.0.0.1:6689/ws");
  expect(bridgeUrl({ protocol: "https:", host: "dash.example" })).toBe("wss://dash.example/ws");
});
