/**
 * Hot reload against the compiled daemon: turns streaming through a reload
 * complete without a gap; the next turn uses the changed provider; a new
 * agent answers at once; a removed agent's session is refused until the
 * agent comes back; a bad file changes nothing and answers with file, line
 * and key; SIGHUP and a saved file (in place or renamed over) reload.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import type { StreamEvent } from "../../src/protocol/gen/crabtalk.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { endOf, streamTurn, waitFor } from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";

let a: FakeProvider;
let b: FakeProvider;
let d: DaemonHandle;

function config(url: string, agents: string, daemonExtra = ""): string {
  return `[daemon]
tcp = false
${daemonExtra}
[provider.fake]
kind = "openai"
base_url = "${url}/v1"
models = ["fake-model"]

[agents.crab]
model = "fake-model"
${agents}
`;
}

const slowReply = () =>
  sseReply(openaiSse({ model: "fake-model", text: "one two three four five six seven eight", textDeltas: 8 }), {
    chunkSizes: [64],
    chunkDelayMs: 15,
  });

beforeAll(async () => {
  a = await FakeProvider.start();
  b = await FakeProvider.start();
  a.route(() => slowReply());
  b.route(() => sseReply(openaiSse({ model: "fake-model", text: "from b" })));
  d = await startDaemon({ config: config(a.url, `[agents.old]\nmodel = "fake-model"\n`) });
});
afterAll(async () => {
  await d.cleanup();
  await a.stop();
  await b.stop();
});

const file = () => join(d.home, "crabtalk.toml");

async function reload(c: CrabtalkClient) {
  return (await c.request({ reload: {} })).reloaded!;
}

describe("reload", () => {
  test("twenty turns stream through a reload that moves a provider, adds an agent and removes one", async () => {
    const c = await d.client();
    const oldTurn = await streamTurn(c, { agent: "old", content: "remember me" });
    const oldSession = oldTurn[0]!.session;

    const turns = Array.from({ length: 20 }, async () => {
      const w = await d.client();
      try {
        return await streamTurn(w, { content: "through the reload" });
      } finally {
        w.close();
      }
    });
    await waitFor(() => a.requests.length >= 3, 10_000, "turns in flight");
    writeFileSync(file(), config(b.url, `[agents.fresh]\nmodel = "fake-model"\n`));
    const report = await reload(c);
    expect(report.changes).toEqual(
      expect.arrayContaining(["provider fake changed", "agent fresh added", "agent old removed"]),
    );
    expect(report.needsRestart).toEqual([]);

    const done = await Promise.all(turns);
    for (const events of done) {
      expect(endOf(events).stopReason).toBe("stop");
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    }
    // The next turn goes to the new base URL; the new agent answers at once.
    const before = b.requests.length;
    expect(endOf(await streamTurn(c, { content: "after" })).stopReason).toBe("stop");
    expect(b.requests.length).toBe(before + 1);
    const fresh = await streamTurn(c, { agent: "fresh", content: "hi" });
    expect(
      fresh
        .filter((e) => e.chunk)
        .map((e) => e.chunk!.content)
        .join(""),
    ).toBe("from b");

    // The removed agent's session stays on disk, and is refused until the agent is back.
    await expect(streamTurn(c, { agent: "", session: oldSession, content: "still there?" })).rejects.toMatchObject({
      code: 404,
      message: expect.stringContaining("agent old was removed from the config"),
    });
    expect((await c.request({ getHistory: { session: oldSession } })).history!.messages[0]!.content).toBe(
      "remember me",
    );
    writeFileSync(file(), config(b.url, `[agents.fresh]\nmodel = "fake-model"\n[agents.old]\nmodel = "fake-model"\n`));
    expect((await reload(c)).changes).toContain("agent old added");
    const back = await streamTurn(c, { agent: "", session: oldSession, content: "back?" });
    expect(endOf(back).stopReason).toBe("stop");
    c.close();
  }, 60_000);

  test("a TOML error and a semantic error leave the daemon as it was, answered with file, line and key", async () => {
    const c = await d.client();
    const good = config(b.url, `[agents.fresh]\nmodel = "fake-model"\n[agents.old]\nmodel = "fake-model"\n`);
    writeFileSync(file(), `${good}\n[agents.broken\n`);
    await expect(reload(c)).rejects.toMatchObject({
      code: 400,
      message: expect.stringMatching(new RegExp(`^${file()}:\\d+: invalid TOML at line \\d+`)),
    });
    writeFileSync(file(), `${good}\n[agents.broken]\nmodel = "fake-model"\nmax_iterations = 0\n`);
    await expect(reload(c)).rejects.toMatchObject({
      code: 400,
      message: expect.stringContaining(`${file()}:`),
    });
    const err = await reload(c).catch((e: Error) => e.message);
    expect(err).toMatch(/:\d+: \[agents\.broken\.max_iterations\] must be a positive whole number/);
    // Nothing changed: "broken" does not exist, the others answer.
    await expect(streamTurn(c, { agent: "broken", content: "x" })).rejects.toMatchObject({ code: 404 });
    expect(endOf(await streamTurn(c, { agent: "fresh", content: "x" })).stopReason).toBe("stop");
    await waitFor(
      () => d.stderr().includes("reload (ReloadMsg) refused, the running config is unchanged"),
      5000,
      "the refusal in the daemon log",
    );
    writeFileSync(file(), good);
    c.close();
  });

  test("SIGHUP reloads; a `reloaded` event reaches event subscribers", async () => {
    const c = await d.client();
    const events: StreamEvent[] = [];
    const watching = (async () => {
      for await (const r of c.stream({ subscribeEvents: {} })) {
        if (r.event?.kind === "reloaded") {
          events.push(r.event.payload!);
          return;
        }
      }
    })();
    await Bun.sleep(50);
    writeFileSync(
      file(),
      config(
        b.url,
        `[agents.fresh]\nmodel = "fake-model"\n[agents.old]\nmodel = "fake-model"\n[agents.hup]\nmodel = "fake-model"\n`,
      ),
    );
    d.proc.kill("SIGHUP");
    await watching;
    expect(events[0]!.reloaded).toMatchObject({ trigger: "SIGHUP", changes: ["agent hup added"] });
    expect(endOf(await streamTurn(c, { agent: "hup", content: "x" })).stopReason).toBe("stop");
    c.close();
  });

  test("`crabtalk reload` prints what changed and what needs a restart", async () => {
    writeFileSync(
      file(),
      config(
        b.url,
        `[agents.fresh]\nmodel = "fake-model"\n[agents.old]\nmodel = "fake-model"\n`,
        "approval_timeout_ms = 1234\nclient_stall_timeout_ms = 9999",
      ),
    );
    const r = await runCrabtalk(d.home, ["reload", "--socket", d.socket]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("reloaded: agent hup removed");
    expect(r.stdout).toContain("reloaded: daemon.approval_timeout_ms changed");
    expect(r.stdout).toContain("needs a restart to apply: daemon.client_stall_timeout_ms");
  });
});

describe("watch_config", () => {
  test("an in-place write and a rename-over save both reload", async () => {
    await using w = await startDaemon({ config: config(b.url, "", "watch_config = true") });
    const path = join(w.home, "crabtalk.toml");
    const c = await w.client();
    writeFileSync(path, config(b.url, `[agents.inplace]\nmodel = "fake-model"\n`, "watch_config = true"));
    await waitFor(() => w.stderr().includes("agent inplace added"), 10_000, "the in-place save to reload");
    expect(endOf(await streamTurn(c, { agent: "inplace", content: "x" })).stopReason).toBe("stop");
    // An editor's save: write a temp file, rename it over the config.
    const tmp = join(w.home, ".crabtalk.toml.swp");
    writeFileSync(tmp, config(b.url, `[agents.renamed]\nmodel = "fake-model"\n`, "watch_config = true"));
    renameSync(tmp, path);
    await waitFor(() => w.stderr().includes("agent renamed added"), 10_000, "the rename-over save to reload");
    expect(endOf(await streamTurn(c, { agent: "renamed", content: "x" })).stopReason).toBe("stop");
    // And a third save still works (the watcher survived the rename).
    writeFileSync(path, config(b.url, `[agents.third]\nmodel = "fake-model"\n`, "watch_config = true"));
    await waitFor(() => w.stderr().includes("agent third added"), 10_000, "a save after the rename to reload");
    c.close();
  });
});
