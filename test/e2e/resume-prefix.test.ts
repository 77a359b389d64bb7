/**
 * The kept request prefix through the compiled daemon: a long session
 * never compacted, resumed from disk, earns a view checkpoint that names a
 * prefix file holding the JSON its provider sends for that history (both
 * written after the turn's end); the next resume from it sends the model
 * exactly the messages the one before it sent plus the new turn; and that
 * request carries the kept JSON itself, not a fresh encoding (a marker put
 * in the prefix file, with the checkpoint naming its new sum, is what the
 * model receives).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkpointPath } from "../../src/store/checkpoint.ts";
import { prefixPath } from "../../src/store/request-prefix.ts";
import { JsonlSessionStore } from "../../src/store/jsonl.ts";
import { startDaemon, tempHome } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { writeLongSession } from "../helpers/session-gen.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { messagesOf, streamTurn, turnConfig } from "../helpers/turn-kit.ts";
import { sealedLine } from "../store/helpers.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

interface Header {
  kind: string;
  columns: number;
  prefix?: { format: string; count: number; bytes: number; sum: string };
}

function readCheckpoint(log: string): { header: Header; body: Buffer } | undefined {
  if (!existsSync(checkpointPath(log))) return undefined;
  const file = readFileSync(checkpointPath(log));
  const nl = file.indexOf(0x0a);
  return { header: JSON.parse(file.subarray(0, nl).toString("utf8")) as Header, body: file.subarray(nl + 1) };
}

async function waitFor<T>(what: string, get: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** A home holding one long never-compacted session (no checkpoint yet): its id and log path. */
async function longSessionHome(deltas: number): Promise<{ home: string; id: number; log: string }> {
  const home = tempHome("crabtalk-resume-prefix-");
  homes.push(home);
  const sessions = join(home, "sessions");
  const store = await JsonlSessionStore.open(sessions, { fsync: "none" });
  const id = await writeLongSession(store, { messages: 1500, toolEvery: 3, deltas });
  await store.close();
  return { home, id, log: join(sessions, `${id}.jsonl`) };
}

/** The view checkpoint once it names a prefix (written after the turn that resumed the session ends). */
const viewWithPrefix = (log: string) =>
  waitFor("the view checkpoint with its prefix", () => {
    const read = readCheckpoint(log);
    return read?.header.prefix ? read : undefined;
  });

describe("kept request prefix", () => {
  test("a resume from a view with a prefix sends what the resume before it sent, plus the new turn", async () => {
    await using fake = await FakeProvider.start();
    fake.route(() => sseReply(openaiSse({ text: "noted" })));
    const { home, id, log } = await longSessionHome(2);
    expect(existsSync(checkpointPath(log))).toBe(false);

    await using d = await startDaemon({ home, config: turnConfig(fake.url) });
    const c = await d.client();
    // The first resume folds the whole log; its view checkpoint, with the prefix, is written after the turn.
    await streamTurn(c, { agent: "", content: "first", session: id });
    const first = messagesOf(fake.requests.at(-1)!).filter((m) => m.role !== "system");
    const cp = await viewWithPrefix(log);
    expect(cp.header.kind).toBe("view");
    // The history before the question "first": every message the first request sent but the question.
    expect(cp.header.prefix!.count).toBe(first.length - 1);
    expect(cp.header.prefix!.format).toStartWith("openai-chat/");

    await c.request({ kill: { session: id } });
    await streamTurn(c, { agent: "", content: "second", session: id });
    const second = messagesOf(fake.requests.at(-1)!).filter((m) => m.role !== "system");
    expect(second).toEqual([...first, { role: "assistant", content: "noted" }, { role: "user", content: "second" }]);
    c.close();
  }, 60_000);

  test("the first request after the resume carries the kept JSON itself (a marker in the sealed file reaches the model)", async () => {
    await using fake = await FakeProvider.start();
    fake.route(() => sseReply(openaiSse({ text: "noted" })));
    const { home, id, log } = await longSessionHome(0);

    await using d = await startDaemon({ home, config: turnConfig(fake.url) });
    const c = await d.client();
    await streamTurn(c, { agent: "", content: "first", session: id });
    const { header, body } = await viewWithPrefix(log);
    await c.request({ kill: { session: id } });

    // One user message's "question N:" becomes "QUESTION N:" in the prefix file (same length), and the
    // checkpoint is sealed again naming the file's new sum.
    const prefix = readFileSync(prefixPath(log));
    expect(prefix.length).toBe(header.prefix!.bytes);
    const at = prefix.indexOf(Buffer.from('"content":"question ')) + '"content":"'.length;
    expect(at).toBeGreaterThan(10);
    const label = prefix.subarray(at, prefix.indexOf(":", at) + 1).toString(); // "question N:"
    prefix.write("QUESTION", at);
    writeFileSync(prefixPath(log), prefix);
    const resealed = { ...header, prefix: { ...header.prefix!, sum: Bun.hash(prefix).toString(16) } };
    const line = sealedLine(resealed, body);
    const pad = " ".repeat((8 - ((line.length + 1) % 8)) % 8);
    writeFileSync(checkpointPath(log), Buffer.concat([Buffer.from(`${line}${pad}\n`), body]));

    await streamTurn(c, { agent: "", content: "second", session: id });
    const sent = fake.requests.at(-1)!.rawBody;
    expect(sent).toContain(`"content":"${label.toUpperCase()}`);
    expect(sent).not.toContain(`"content":"${label}`);
    // Only that message changed: the rest of the history and the new turn are there as before.
    expect(messagesOf(fake.requests.at(-1)!).filter((m) => String(m.content).startsWith("question ")).length).toBe(
      messagesOf(fake.requests.at(-2)!).filter((m) => String(m.content).startsWith("question ")).length - 1,
    );
    expect(messagesOf(fake.requests.at(-1)!).at(-1)).toEqual({ role: "user", content: "second" });
    c.close();
  }, 60_000);
});
