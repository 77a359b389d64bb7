/**
 * Killing a session with turns queued behind a running one, through the
 * compiled daemon: every requester hears how its turn ended (the running
 * one ends aborted, a queued one gets an ErrorMsg) instead of waiting on a
 * turn that will never start.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { DaemonError } from "../../src/client/client.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { requestsDispatched } from "../helpers/barrier.ts";
import { FakeProvider, gate, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { endOf, lastUserText, sessionOf, streamTurn, turnConfig, waitFor } from "../helpers/turn-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
const held = gate();

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route((req) => {
    const text = lastUserText(req);
    if (text === "held")
      return sseReply(openaiSse({ model: "fake-model", text: "the held answer", textDeltas: 4 }), {
        gate: held.promise,
        gateAfterBytes: 200,
      });
    return sseReply(openaiSse({ model: "fake-model", text: `echo: ${text}` }));
  });
  d = await startDaemon({ config: turnConfig(fake.url) });
});
afterAll(async () => {
  held.release();
  await d.cleanup();
  await fake.stop();
});

test("kill answers the requester of a queued turn instead of leaving it waiting forever", async () => {
  const first = await d.client();
  const session = sessionOf(await streamTurn(first, { content: "hello" }));

  const running = streamTurn(first, { content: "held", session });
  await waitFor(() => fake.requests.some((r) => lastUserText(r) === "held"), 5000, "the held request");

  const second = await d.client();
  const queued = streamTurn(second, { content: "after the held one", session }).then(
    (events) => ({ ok: true as const, events }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  // The queued turn is in the session's queue before the kill is read (see requestsDispatched): the
  // session is in memory, so queueing a turn on it waits on no I/O.
  await requestsDispatched(second);

  const killer = await d.client();
  await killer.request({ kill: { session } });

  expect(endOf(await running).stopReason).toBe("aborted");
  // A deadline, not an ordering sleep: the bug this guards against is a requester left waiting forever.
  const outcome = await Promise.race([queued, Bun.sleep(3000).then(() => "still waiting" as const)]);
  if (outcome === "still waiting") throw new Error("the queued turn's requester heard nothing 3 s after the kill");
  expect(outcome.ok).toBe(false);
  if (outcome.ok) throw new Error(`the queued turn ran after the kill: ${JSON.stringify(outcome.events.at(-1))}`);
  expect(outcome.err).toBeInstanceOf(DaemonError);
  expect((outcome.err as DaemonError).code).toBe(ErrorCode.Conflict);
  expect((outcome.err as DaemonError).message).toContain("killed");
  // Nothing of the queued turn reached the model.
  expect(fake.requests.some((r) => lastUserText(r) === "after the held one")).toBe(false);

  // The session stays usable.
  const again = await streamTurn(killer, { content: "once more", session });
  expect(endOf(again).stopReason).toBe("stop");
  for (const c of [first, second, killer]) c.close();
}, 30_000);
