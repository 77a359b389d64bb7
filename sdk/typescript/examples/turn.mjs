// One turn through @crabtalk/client, printed as JSON lines: every event
// (kind, seq, text), a "reconnected" line each time the connection is
// re-established mid-turn, and every approval request answered "allow".
// Usage: node turn.mjs SOCKET AGENT MESSAGE. Exit 0 when the turn stopped normally.
import { CrabtalkClient } from "@crabtalk/client";

const [socket, agent, message] = process.argv.slice(2);
const out = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const client = await CrabtalkClient.connect({
  socket,
  onReconnect: ({ session, afterSeq, cause }) => out({ kind: "reconnected", session, afterSeq, cause: cause.name }),
});
let stop = "";
for await (const event of client.stream(agent, message)) {
  out({ kind: event.event, seq: event.seq, session: event.session, text: event.chunk?.content });
  if (event.approval) {
    const ack = await client.approve(event.session, event.approval.callId, "allow");
    out({ kind: "approved", callId: event.approval.callId, tool: event.approval.tool, ack });
  }
  if (event.end) stop = event.end.stopReason;
}
client.close();
out({ kind: "done", stop });
process.exit(stop === "stop" ? 0 : 1);
