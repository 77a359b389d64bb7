/**
 * Regressions found by the reliability suite (bench/reliability.ts), each
 * against the compiled daemon: the fault as the suite met it, reduced to
 * the smallest run that showed it.
 */
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { lastUserText, turnConfig } from "../helpers/turn-kit.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

// StreamEnd used to be published before the turn's answer reached the store: a kill -9 the moment a
// client saw the end lost the answer in 9 of 17 such kills.
test("kill -9 the instant a client sees StreamEnd: the answer it saw finish is in history after restart", async () => {
  await using fake = await FakeProvider.start();
  fake.route((req) => sseReply(openaiSse({ text: `answer to ${lastUserText(req)}`, textDeltas: 6 })));
  const home = tempHome("crabtalk-rel-regress-");
  homes.push(home);
  const config = turnConfig(fake.url);
  let session: number | undefined;
  const finished: string[] = [];
  for (let round = 0; round < 6; round++) {
    const d = await startDaemon({ home, config });
    const c = await d.client();
    const prompt = `round ${round}`;
    try {
      for await (const reply of c.stream({ stream: { agent: "crab", content: prompt, session } })) {
        const e = reply.stream;
        if (e?.start) session = Number(e.start.session);
        if (e?.end) {
          d.proc.kill("SIGKILL"); // before anything else runs in this process
          if (e.end.stopReason === "stop") finished.push(prompt);
          break;
        }
      }
    } catch {
      // the connection dies with the daemon
    }
    await d.kill9();
    c.close();
  }
  expect(finished.length).toBe(6);
  await using back = await startDaemon({ home, config });
  const c = await back.client();
  const messages = (await c.request({ getHistory: { session: session! } })).history!.messages;
  c.close();
  for (const prompt of finished) {
    const at = messages.findIndex((m) => m.role === "user" && m.content === prompt);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(messages[at + 1]).toMatchObject({ role: "assistant", content: `answer to ${prompt}` });
  }
}, 60_000);
