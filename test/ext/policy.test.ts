/**
 * The restart decision (src/ext/policy.ts): each policy's answer to a clean
 * and a failed run, the backoff doubling to its 60 s cap, the reset after a
 * healthy (60 s) run, and the crash loop that ends in `failed`.
 */
import { expect, test } from "bun:test";
import {
  BACKOFF_MAX_MS,
  CRASH_LOOP,
  decide,
  freshMemory,
  HEALTHY_MS,
  type RestartMemory,
} from "../../src/ext/policy.ts";

const clean = (now = 0, ranMs = 10) => ({ failed: false, ranMs, now });
const failed = (now = 0, ranMs = 10) => ({ failed: true, ranMs, now });

test("never / on_failure / always against a clean and a failed run", () => {
  expect(decide("never", clean(), freshMemory())).toMatchObject({ action: "stop", state: "stopped" });
  expect(decide("never", failed(), freshMemory())).toMatchObject({ action: "stop", state: "failed" });
  expect(decide("on_failure", clean(), freshMemory())).toMatchObject({ action: "stop", state: "stopped" });
  expect(decide("on_failure", failed(), freshMemory())).toMatchObject({ action: "restart", delayMs: 1000 });
  expect(decide("always", clean(), freshMemory())).toMatchObject({ action: "restart", delayMs: 1000 });
});

test("the backoff doubles to 60 s; clean exits under always never count as a crash loop", () => {
  let memory: RestartMemory = freshMemory();
  const delays: number[] = [];
  for (let i = 0; i < 9; i++) {
    const d = decide("always", clean(i * 1000), memory);
    if (d.action !== "restart") throw new Error("stopped");
    delays.push(d.delayMs);
    memory = d.memory;
  }
  expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  expect(memory.backoffMs).toBe(BACKOFF_MAX_MS);
});

test("a healthy run starts the backoff and the failure count over", () => {
  let memory: RestartMemory = freshMemory();
  for (let i = 0; i < CRASH_LOOP - 1; i++) {
    const d = decide("on_failure", failed(i * 100), memory);
    memory = d.memory;
  }
  expect(memory.failures).toHaveLength(CRASH_LOOP - 1);
  expect(memory.backoffMs).toBe(16000);
  const after = decide("on_failure", failed(1000, HEALTHY_MS), memory);
  expect(after).toMatchObject({ action: "restart", delayMs: 1000 });
  expect(after.memory.failures).toHaveLength(1);
});

test(`${CRASH_LOOP} failures within the window end in failed; failures outside it do not count`, () => {
  let memory: RestartMemory = freshMemory();
  let last = decide("on_failure", failed(0), memory);
  for (let i = 1; i < CRASH_LOOP; i++) {
    memory = last.memory;
    last = decide("on_failure", failed(i * 1000), memory);
  }
  expect(last).toMatchObject({ action: "stop", state: "failed", crashLoop: true });
  // The same number of failures spread over more than the window keeps restarting.
  memory = freshMemory();
  for (let i = 0; i < CRASH_LOOP; i++) {
    last = decide("on_failure", failed(i * 200_000), memory);
    memory = last.memory;
  }
  expect(last.action).toBe("restart");
});
