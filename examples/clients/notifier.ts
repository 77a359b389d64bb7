/**
 * Recipe: a notifier. Follows every agent's events and prints each final
 * answer as one line, `<agent> #<session>: <answer>`, the moment its turn
 * ends (a chat gateway or a desktop notification would do the same).
 *
 *   bun examples/clients/notifier.ts [--count N]     # N: exit after N answers
 *
 * In your own project, import from "@crabtalk/client" instead.
 */
import { CrabtalkClient } from "../../sdk/typescript/src/index.ts";

const countArg = process.argv.indexOf("--count");
const limit = countArg > 0 ? Number(process.argv[countArg + 1]) : Number.POSITIVE_INFINITY;

const client = await CrabtalkClient.connect();
/** The answer so far of each turn in flight, by session: text deltas since its start. */
const answers = new Map<number, string>();
let printed = 0;
// Start the subscription, then ping: the daemon handles one connection's frames in order, so once the
// pong is back the subscription is in place and no turn from now on can be missed.
const events = client.events()[Symbol.asyncIterator]();
const first = events.next();
await client.ping();
console.log("listening");
for (let next = await first; !next.done; next = await events.next()) {
  const { agent, session, payload } = next.value;
  if (!payload) continue;
  if (payload.start) answers.set(session, "");
  else if (payload.chunk) answers.set(session, (answers.get(session) ?? "") + payload.chunk.content);
  else if (payload.toolStart)
    answers.set(session, ""); // text before a tool call is not the final answer
  else if (payload.end) {
    console.log(`${agent} #${session}: ${answers.get(session) ?? ""} [${payload.end.stopReason}]`);
    answers.delete(session);
    if (++printed >= limit) break;
  }
}
await events.return?.(undefined);
client.close();
