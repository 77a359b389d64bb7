/**
 * Recipe: a script step. Runs one turn, prints the answer, and exits with
 * the model's stop reason as its status, so a shell script or cron job can
 * branch on it: 0 stop, 3 length, 4 max_iterations, 5 token_budget, 6
 * aborted, 7 error (the error is printed on stderr), 1 anything else.
 *
 *   bun examples/clients/run-turn.ts AGENT MESSAGE
 *
 * In your own project, import from "@crabtalk/client" instead.
 */
import { CrabtalkClient } from "../../sdk/typescript/src/index.ts";

const EXIT: Record<string, number> = { stop: 0, length: 3, max_iterations: 4, token_budget: 5, aborted: 6, error: 7 };

const [agent, message] = process.argv.slice(2);
if (!agent || !message) {
  console.error("usage: run-turn.ts AGENT MESSAGE");
  process.exit(2);
}
const client = await CrabtalkClient.connect();
let stop = "";
for await (const event of client.stream(agent, message, { sender: "script", approver: "none" })) {
  if (event.chunk) process.stdout.write(event.chunk.content);
  if (event.end) {
    stop = event.end.stopReason;
    if (event.end.error) console.error(`turn failed (${event.end.errorCode}): ${event.end.error}`);
  }
}
client.close();
process.stdout.write("\n");
console.error(`stop_reason: ${stop}`);
process.exit(EXIT[stop] ?? 1);
