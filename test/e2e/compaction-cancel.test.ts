/** A compaction is cancellable like a turn: CancelMsg stops the summarize request and leaves history unchanged. */
import { expect, test } from "bun:test";
import { DaemonError } from "../../src/client/client.ts";
import { startDaemon } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { messagesOf, sessionOf, streamTurn, turnConfig } from "../helpers/turn-kit.ts";

test("cancel during a requested compaction: 502 naming the cancel, history unchanged, next turn carries everything", async () => {
  await using fake = await FakeProvider.start();
  fake.enqueue(sseReply(openaiSse({ text: "noted: otters" })));
  fake.enqueue({ kind: "hang" }); // the summarize request never answers
  fake.enqueue(sseReply(openaiSse({ text: "still here" })));
  await using d = await startDaemon({ config: turnConfig(fake.url) });
  const c = await d.client();
  const id = sessionOf(await streamTurn(c, { content: "remember otters" }));
  const compacting = c.request({ compact: { session: id } });
  await fake.waitForRequests(2);
  const started = Date.now();
  expect((await c.request({ cancel: { session: id } })).ack?.message).toContain("cancelling");
  const err = await compacting.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DaemonError);
  expect((err as DaemonError).code).toBe(502);
  expect((err as DaemonError).message).toContain("cancelled");
  expect(Date.now() - started).toBeLessThan(5000);
  await streamTurn(c, { content: "and now?", session: id });
  const sent = messagesOf(fake.requests[2]!).map((m) => m.role);
  expect(sent.filter((r) => r !== "system")).toEqual(["user", "assistant", "user"]);
  c.close();
}, 30_000);
