/**
 * Recipe: a watcher. Follows one session and prints every event as a line
 * `<seq> <kind> [text]`, surviving disconnects and daemon restarts: it
 * re-attaches from the last seq it printed and the daemon replays what it
 * missed from the session's trace, so no event is lost or printed twice.
 *
 *   bun examples/clients/watcher.ts SESSION [--after SEQ] [--turns N]
 *
 * --after replays from that seq first (0: the whole session); --turns exits
 * after N turn ends. In your own project, import from "@crabtalk/client".
 */
import { CrabtalkClient } from "../../sdk/typescript/src/index.ts";

const args = process.argv.slice(2);
const option = (name: string): number | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};
const session = Number(args[0]);
if (!Number.isInteger(session) || session <= 0) {
  console.error("usage: watcher.ts SESSION [--after SEQ] [--turns N]");
  process.exit(2);
}
const turns = option("--turns") ?? Number.POSITIVE_INFINITY;

const client = await CrabtalkClient.connect({
  reconnect: { timeoutMs: 120_000 },
  onReconnect: ({ afterSeq, cause }) =>
    console.log(`# reconnected after ${cause.name}, resuming after seq ${afterSeq}`),
});
let ended = 0;
for await (const event of client.attach(session, { afterSeq: option("--after") })) {
  console.log(`${event.seq} ${event.event}${event.chunk ? ` ${JSON.stringify(event.chunk.content)}` : ""}`);
  if (event.end && ++ended >= turns) break;
}
client.close();
