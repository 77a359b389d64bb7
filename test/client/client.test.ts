/**
 * The client SDK against an in-process listener that records what it is
 * sent: a one-reply request is complete with its reply and sends nothing
 * after it; a stream the caller leaves early is unsubscribed.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CrabtalkClient } from "../../src/client/client.ts";
import { RequestTimeout } from "../../src/transport/request-channel.ts";
import { clientMessage, serverMessage } from "../../src/protocol/codec.ts";
import type { ClientMessage } from "../../src/protocol/gen/crabtalk.ts";
import { listenUnix } from "../../src/transport/socket.ts";

async function withServer(run: (client: CrabtalkClient, received: ClientMessage[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "crabtalk-client-"));
  const received: ClientMessage[] = [];
  const listener = listenUnix(join(dir, "s.sock"), {
    onFrame: (conn, payload) => {
      const m = clientMessage.decode(payload);
      received.push(m);
      if (m.ping) void conn.send(serverMessage.encode({ requestId: m.requestId, pong: { version: "t" } }));
      if (m.subscribeEvents)
        for (let i = 0; i < 3; i++)
          void conn.send(serverMessage.encode({ requestId: m.requestId, event: { session: 1, kind: "chunk" } }));
    },
  });
  const client = await CrabtalkClient.connect({ socket: join(dir, "s.sock") });
  try {
    await run(client, received);
  } finally {
    client.close();
    listener.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
}

test("request() of a one-reply request sends no unsubscribe after the reply", async () => {
  await withServer(async (client, received) => {
    for (let i = 0; i < 3; i++) expect((await client.request({ ping: {} })).pong?.version).toBe("t");
    await Bun.sleep(50);
    expect(received.map((m) => m.msg)).toEqual(["ping", "ping", "ping"]);
  });
});

test("leaving a long-lived stream early unsubscribes it", async () => {
  await withServer(async (client, received) => {
    for await (const reply of client.stream({ subscribeEvents: {} })) {
      expect(reply.event?.kind).toBe("chunk");
      break;
    }
    await Bun.sleep(50);
    expect(received.map((m) => m.msg)).toEqual(["subscribeEvents", "unsubscribe"]);
    expect(received[1]!.unsubscribe?.requestId).toBe(received[0]!.requestId);
  });
});

test("a request past its timeoutMs rejects with RequestTimeout and is unsubscribed at the daemon; an aborted one too", async () => {
  await withServer(async (client, received) => {
    // The test server never answers status.
    await expect(client.request({ status: {} }, { timeoutMs: 50 })).rejects.toBeInstanceOf(RequestTimeout);
    const controller = new AbortController();
    const pending = client.request({ status: {} }, { signal: controller.signal });
    controller.abort(new Error("stop waiting"));
    await expect(pending).rejects.toThrow("stop waiting");
    await expect(client.request({ subscribeTasks: {} }, { timeoutMs: 50 })).rejects.toThrow("no reply within 50 ms");
    while (received.filter((m) => m.msg === "unsubscribe").length < 3) await Bun.sleep(10);
    const ids = received.filter((m) => m.msg === "status" || m.msg === "subscribeTasks").map((m) => m.requestId!);
    expect(received.filter((m) => m.msg === "unsubscribe").map((m) => m.unsubscribe!.requestId)).toEqual(ids);
    expect((await client.request({ ping: {} })).pong?.version).toBe("t");
  });
});
