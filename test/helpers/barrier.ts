/**
 * An ordering barrier for end-to-end tests, in place of "sleep a little and
 * hope the daemon has read my request": a Ping round trip on the same
 * connection. The daemon decodes a connection's frames in order and starts
 * each request's handler as its frame is decoded, so once the Pong is back,
 * every request sent before it on that connection has reached its handler.
 *
 * What that proves depends on the handler: one that registers its effect
 * before its first wait on I/O (subscribeEvents; a StreamMsg on a session
 * already in memory, which queues its turn after microtasks only) has done
 * so before the daemon reads any later frame, from any connection. A
 * handler that waits on I/O first (attach reads the store) needs a reply of
 * its own to wait for instead.
 */
import type { CrabtalkClient } from "../../src/client/client.ts";

export async function requestsDispatched(client: CrabtalkClient): Promise<void> {
  const reply = await client.request({ ping: {} });
  if (reply.msg !== "pong") throw new Error(`barrier: expected a Pong from the daemon, got ${reply.msg ?? "nothing"}`);
}
