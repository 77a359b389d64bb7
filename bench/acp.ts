/**
 * ACP bridge benchmark, `bun bench/acp.ts`: what `crabtalk acp` adds before
 * an editor sees the first words of an answer. In one run, against the
 * compiled binary (dist/crabtalk) and a fake provider answering at once:
 *
 * - Warm first update: an editor (the SDK's client side) with an
 *   initialized bridge and an open session sends session/prompt; time to the
 *   first agent_message_chunk. Baseline: the same turn as a direct StreamMsg
 *   over the socket, time to the first chunk event.
 * - Cold start: spawning `crabtalk acp` until initialize answers (process
 *   start, daemon connection, SDK import), then to the first update of a new
 *   session's first prompt. Baseline: `crabtalk send` spawned until it exits
 *   with the answer (send prints only the final text, so that is its first
 *   output).
 *
 * Prints medians and p95s. The machine is shared: compare within one run.
 */
import { methods } from "@agentclientprotocol/sdk";
import { binaryPath, startDaemon } from "../test/helpers/daemon.ts";
import { FakeProvider, sseReply } from "../test/helpers/fake-provider.ts";
import { openaiSse } from "../test/helpers/sse-builders.ts";
import { turnConfig } from "../test/helpers/turn-kit.ts";
import { initialize, startEditor } from "../test/acp/editor.ts";

const WARM_ROUNDS = Number(process.env.ACP_WARM_ROUNDS ?? 40);
const COLD_ROUNDS = Number(process.env.ACP_COLD_ROUNDS ?? 8);

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const row = (name: string, xs: number[]) =>
  console.log(
    `${name.padEnd(52)} median ${pct(xs, 50).toFixed(2).padStart(8)} ms   p95 ${pct(xs, 95).toFixed(2).padStart(8)} ms`,
  );

const fake = await FakeProvider.start();
fake.route(() => sseReply(openaiSse({ model: "fake-model", text: "first words of the answer" })));
await using daemon = await startDaemon({ config: turnConfig(fake.url) });
const cwd = `${daemon.home}/work`;
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: daemon.home, CRABTALK_HOME: daemon.home };

// Warm: one bridge, one session, many prompts; one client, many StreamMsgs.
const viaBridge: number[] = [];
const direct: number[] = [];
{
  await using editor = startEditor(daemon.home, daemon.socket);
  await initialize(editor);
  const { sessionId } = await editor.conn.agent.request(methods.agent.session.new, { cwd, mcpServers: [] });
  const client = await daemon.client();
  let directSession = 0;
  for (let i = 0; i < WARM_ROUNDS; i++) {
    const seen = editor.updates.length;
    const t0 = performance.now();
    const done = editor.conn.agent.request(methods.agent.session.prompt, {
      sessionId,
      prompt: [{ type: "text", text: `round ${i}` }],
    });
    await editor.waitForUpdate(
      "the first chunk through the bridge",
      (u) => editor.updates.indexOf(u) >= seen && u.update.sessionUpdate === "agent_message_chunk",
    );
    viaBridge.push(performance.now() - t0);
    await done;

    // The same kind of turn: an existing session (the bridge's is too), growing by one exchange per round.
    const t1 = performance.now();
    let first = 0;
    for await (const r of client.stream({
      stream: { agent: "crab", content: `round ${i}`, session: directSession || undefined },
    })) {
      if (r.stream?.start) directSession = r.stream.start.session;
      if (r.stream?.chunk && !first) first = performance.now() - t1;
    }
    if (i > 0) direct.push(first);
    else viaBridge.pop(); // round 0 of the direct side creates its session: keep the warm figures comparable
  }
  client.close();
}

// Cold: a new bridge process per editor start, against `crabtalk send` spawned per answer.
const coldInit: number[] = [];
const coldFirst: number[] = [];
const send: number[] = [];
for (let i = 0; i < COLD_ROUNDS; i++) {
  const t0 = performance.now();
  const editor = startEditor(daemon.home, daemon.socket);
  await initialize(editor);
  coldInit.push(performance.now() - t0);
  const { sessionId } = await editor.conn.agent.request(methods.agent.session.new, { cwd, mcpServers: [] });
  await Promise.all([
    editor.conn.agent.request(methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: "cold" }] }),
    editor
      .waitForUpdate("the first chunk", (u) => u.update.sessionUpdate === "agent_message_chunk")
      .then(() => coldFirst.push(performance.now() - t0)),
  ]);
  await editor.close();

  const t1 = performance.now();
  const proc = Bun.spawn([binaryPath(), "send", "--socket", daemon.socket, "cold"], { env, stdout: "pipe" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0 || !out.includes("first words")) throw new Error(`crabtalk send failed: ${out}`);
  send.push(performance.now() - t1);
}
await fake.stop();

console.log(`first update latency (${WARM_ROUNDS} warm rounds, ${COLD_ROUNDS} cold)`);
row("warm: session/prompt -> first agent_message_chunk", viaBridge);
row("warm: direct StreamMsg -> first chunk (baseline)", direct);
console.log(
  `${"warm: added by the bridge (median)".padEnd(52)} ${(pct(viaBridge, 50) - pct(direct, 50)).toFixed(2)} ms`,
);
row("cold: spawn crabtalk acp -> initialize answered", coldInit);
row("cold: spawn -> first chunk of a new session", coldFirst);
row("cold: spawn crabtalk send -> answer printed (baseline)", send);
