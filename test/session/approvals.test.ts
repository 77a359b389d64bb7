/**
 * Approvals keyed by session and call id: providers number calls per
 * response (local models often say "call_0"), so two sessions can wait on
 * the same id at once.
 */
import { expect, test } from "bun:test";
import { Approvals } from "../../src/session/approvals.ts";

test("two sessions waiting on the same call id are answered separately", async () => {
  const approvals = new Approvals();
  const a = approvals.wait("call_0", 1, 60_000, new AbortController().signal);
  const b = approvals.wait("call_0", 2, 60_000, new AbortController().signal);
  expect(approvals.size).toBe(2);
  expect(approvals.answer("call_0", true, undefined, 2)).toBe(true);
  expect(await b).toEqual({ allowed: true });
  expect(approvals.size).toBe(1);
  expect(approvals.answer("call_0", false, "no", 1)).toBe(true);
  expect((await a).allowed).toBe(false);
  expect(approvals.size).toBe(0);
});

test("an answer without a session finds the call by id", async () => {
  const approvals = new Approvals();
  const a = approvals.wait("call_x", 3, 60_000, new AbortController().signal);
  expect(approvals.answer("call_x", true, undefined)).toBe(true);
  expect(await a).toEqual({ allowed: true });
});

test("a signal aborted before the wait denies at once and leaves nothing pending", async () => {
  const approvals = new Approvals();
  const c = new AbortController();
  c.abort();
  const a = await approvals.wait("call_1", 1, 60_000, c.signal);
  expect(a.allowed).toBe(false);
  expect(approvals.size).toBe(0);
});
