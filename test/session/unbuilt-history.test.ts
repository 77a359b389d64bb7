/**
 * The first turn after a resume from a view checkpoint with a request
 * prefix (store/checkpoint.ts, request-prefix.ts): its request goes out
 * carrying the kept prefix as its head while the history's first messages
 * are still unbuilt (ModelRequest.head, LiveSession.unbuilt), and the
 * model gets exactly the body a built history gives; so do the next
 * turns', until something needs the messages: read, an afterRun hook (built
 * after the turn's end, never while its first token is on its way), or
 * more than MAX_UNBUILT_REST messages after the head. A beforeRun hook (it
 * is given the history), a provider that does not take the prefix and a prefix file
 * that fails its check all fall back to building first, with the same
 * body. A real store on disk, the real
 * Chat Completions encoder, an in-process runtime.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { takenJson } from "../../src/provider/kept-prefix.ts";
import { chatBodyJson, createOpenAIChatProvider } from "../../src/provider/openai-chat.ts";
import type { EncodedPrefix, Message, ModelRequest, StreamFn } from "../../src/provider/types.ts";
import { MAX_UNBUILT_REST } from "../../src/session/live-session.ts";
import { SessionRuntime } from "../../src/session/runtime.ts";
import { UsageLedger } from "../../src/session/usage.ts";
import { checkpointPath } from "../../src/store/checkpoint.ts";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import { prefixPath } from "../../src/store/request-prefix.ts";
import { reply } from "../agent/script.ts";
import { drain, settingsFor } from "../helpers/runtime-kit.ts";
import { writeLongSession } from "../helpers/session-gen.ts";
import { httpOptions } from "../provider/setup.ts";
import { tempDir } from "../store/helpers.ts";

const BASE = "http://localhost:1/v1";
const chat = createOpenAIChatProvider({ name: "openai", baseUrl: BASE, http: httpOptions() });

interface Sent {
  /** The request had a head: it went out before the history's first messages were built. */
  head: boolean;
  body: string;
  /** The head had been made ready (decoded) before the request was made: during the question's fsync. */
  ready?: boolean;
}

/**
 * The real encoder's prefix hooks and a scripted answer; every request's body as the provider would send it.
 * `onImport` runs when the runtime hands the prefix over for a history just built.
 */
function model(opts: { takesPrefix?: boolean; onImport?: () => void } = {}): { stream: StreamFn; sent: Sent[] } {
  const sent: Sent[] = [];
  const stream: StreamFn = Object.assign(
    (request: ModelRequest, signal?: AbortSignal) => {
      const ready = request.head && typeof takenJson(request.head) === "string";
      sent.push({
        head: request.head !== undefined,
        body: chatBodyJson(request, BASE),
        ...(request.head ? { ready } : {}),
      });
      return reply({ text: `answer ${sent.length}` })(request, signal);
    },
    {
      prepare: (_: string, messages: readonly Message[]) => chat.prepare!(messages),
      exportPrefix: (_: string, messages: readonly Message[]) => chat.exportPrefix!(messages),
      importPrefix: (_: string, messages: readonly Message[], prefix: EncodedPrefix) => {
        opts.onImport?.();
        return chat.importPrefix!(messages, prefix);
      },
      ...(opts.takesPrefix === false
        ? {}
        : {
            takesPrefix: (_: string, p: EncodedPrefix) => chat.takesPrefix!(p),
            prepareHead: (_: string, p: EncodedPrefix) => chat.prepareHead!(p),
          }),
    },
  );
  return { stream, sent };
}

/** A runtime over a real store in `dir` that keeps request prefixes, as the daemon wires it. */
async function open(dir: string, stream: StreamFn): Promise<{ runtime: SessionRuntime; store: JsonlSessionStore }> {
  let runtime: SessionRuntime | undefined;
  const store = await JsonlSessionStore.open(dir, {
    fsync: "none",
    requestPrefix: (agent, history) => runtime?.requestPrefix(agent, history),
  });
  runtime = new SessionRuntime(
    { store, usage: new UsageLedger(null, undefined) },
    settingsFor({ models: { m: stream } }),
  );
  return { runtime, store };
}

async function turn(runtime: SessionRuntime, session: number, content: string): Promise<void> {
  const t = await runtime.startTurn({ agent: "", content, session, sender: "t", approver: { kind: "none" } });
  await drain(t.events);
  await t.session.settled();
}

/** The body a built history gives for the session's stored messages and `content` asked next. */
async function expectedBody(store: JsonlSessionStore, id: number, content: string): Promise<string> {
  const loaded = (await store.resume(id))!;
  const messages = [...loaded.messages, { role: "user", content } as Message];
  return chatBodyJson({ model: "m", messages }, BASE);
}

/** Waits for the view checkpoint (and its prefix file) the first resume's turn earned: written after the turn. */
async function viewWritten(log: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await Bun.file(checkpointPath(log)).exists()) && (await Bun.file(prefixPath(log)).exists())) return;
    await Bun.sleep(10);
  }
  throw new Error("no view checkpoint was written");
}

/** A long never-compacted session (with tool calls) whose first resume has written a view with a prefix. */
async function sessionWithView(dir: string): Promise<{ id: number; log: string }> {
  const gen = await JsonlSessionStore.open(dir, { fsync: "none" });
  const id = await writeLongSession(gen, { messages: 1500, toolEvery: 3, deltas: 2 });
  await gen.close();
  const log = join(dir, `${id}.jsonl`);
  const m = model();
  const { runtime, store } = await open(dir, m.stream);
  await turn(runtime, id, "earn a view");
  await runtime.close();
  await store.close();
  await viewWritten(log);
  return { id, log };
}

describe("the first request after a resume, from the kept prefix", () => {
  test("goes out before the history is built, with the body a built history gives, and so do the next ones until the history is needed", async () => {
    await using tmp = await tempDir();
    const { id } = await sessionWithView(tmp.path);
    const m = model();
    const { runtime, store } = await open(tmp.path, m.stream);
    const live = await runtime.open(id);
    expect(live.unbuilt).not.toBeNull();
    expect(live.unbuilt!.head.count).toBeGreaterThan(1000);
    // The pool's memory accounting counts it without building it.
    const unbuiltChars = live.historyChars();
    expect(live.unbuilt).not.toBeNull();
    for (const content of ["after the resume", "and again"]) {
      const want = await expectedBody(store, id, content);
      await turn(runtime, id, content);
      expect(m.sent.at(-1)).toEqual({ head: true, body: want, ready: true });
      expect(live.unbuilt).not.toBeNull();
    }
    // Built when read: the store's history, object for object what the next turn's request encodes.
    expect(live.history).toEqual((await store.resume(id))!.messages);
    const builtChars = live.historyChars();
    expect(unbuiltChars / builtChars).toBeGreaterThan(0.8);
    expect(unbuiltChars / builtChars).toBeLessThan(1.2);
    const next = await expectedBody(store, id, "built now");
    await turn(runtime, id, "built now");
    expect(m.sent.at(-1)).toEqual({ head: false, body: next });
    await runtime.close();
    await store.close();
  });

  test("built after the turn's end (never while its first token is on its way) for an afterRun hook, or once its rest grows long", async () => {
    await using tmp = await tempDir();
    const { id, log } = await sessionWithView(tmp.path);
    // Turn ends the log holds when the history is built (the runtime then hands the prefix over for it).
    const ends = () => readFileSync(log, "utf8").split('"type":"end"').length - 1;
    let endsAtBuild: number | undefined;
    const m = model({ onImport: () => (endsAtBuild ??= ends()) });
    const { runtime, store } = await open(tmp.path, m.stream);
    let given = 0;
    const removeHook = runtime.hooks.add({
      name: "after",
      afterRun: async (t) => {
        given = t.history.length;
      },
    });
    const live = await runtime.open(id);
    const endsBefore = ends();
    await turn(runtime, id, "q");
    expect(m.sent[0]!.head).toBe(true);
    expect(live.unbuilt).toBeNull();
    expect(endsAtBuild).toBe(endsBefore + 1);
    expect(given).toBe((await store.resume(id))!.messages.length);
    removeHook();
    await runtime.kill(id);

    // Without hooks: built by the turn after which more than MAX_UNBUILT_REST messages follow the head.
    const again = await runtime.open(id);
    const restAtStart = again.unbuilt!.rest.length;
    const turns = Math.ceil((MAX_UNBUILT_REST + 1 - restAtStart) / 2);
    for (let i = 0; i < turns - 1; i++) await turn(runtime, id, `short ${i}`);
    expect(again.unbuilt).not.toBeNull();
    await turn(runtime, id, "one more");
    expect(again.unbuilt).toBeNull();
    expect(m.sent.slice(1).every((s) => s.head)).toBe(true);
    expect(again.history).toEqual((await store.resume(id))!.messages);
    await runtime.close();
    await store.close();
  });

  test("falls back to building first, with the same body: a beforeRun hook, a provider that does not take it, a bad prefix file", async () => {
    await using tmp = await tempDir();
    const { id, log } = await sessionWithView(tmp.path);
    const prefixBytes = await Bun.file(prefixPath(log)).bytes();

    const cases: { name: string; takesPrefix?: boolean; hook?: boolean; spoil?: boolean }[] = [
      { name: "hook", hook: true },
      { name: "provider", takesPrefix: false },
      { name: "prefix file", spoil: true },
    ];
    for (const c of cases) {
      // Each case's turn adds to the session: what the next one must send is taken just before it.
      const reference = await JsonlSessionStore.open(tmp.path, { fsync: "none" });
      const want = await expectedBody(reference, id, "q");
      await reference.close();
      const m = model({ takesPrefix: c.takesPrefix ?? true });
      const { runtime, store } = await open(tmp.path, m.stream);
      let seen = 0;
      if (c.hook)
        runtime.hooks.add({
          name: "peek",
          beforeRun: async (t) => {
            seen = t.history.length;
            return undefined;
          },
        });
      if (c.spoil) {
        const bad = Buffer.from(prefixBytes);
        bad[10] = bad[10]! ^ 1;
        writeFileSync(prefixPath(log), bad);
      }
      await turn(runtime, id, "q");
      expect({ case: c.name, sent: m.sent }).toEqual({ case: c.name, sent: [{ head: false, body: want }] });
      if (c.hook) expect(seen).toBeGreaterThan(1000);
      await runtime.close();
      await store.close();
    }
  });
});
