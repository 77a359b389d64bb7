/**
 * The three client recipes of docs/build-a-client.md (examples/clients/) run
 * as real programs against the compiled daemon, and their output is
 * asserted: the notifier prints each agent's final answer, run-turn exits
 * with the turn's stop reason, and the watcher follows a session across a
 * daemon restart without missing or repeating an event.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { CrabtalkClient } from "../../sdk/typescript/src/index.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { spawnLines } from "./sdk-kit.ts";

const EXAMPLES = join(import.meta.dir, "..", "..", "examples", "clients");
let fake: FakeProvider;
let home: string;
let d: DaemonHandle;

const config = (url: string) =>
  `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n[agents.ops]\nmodel = "fake-model"\n`;

const reply = (text: string, finishReason?: string) => sseReply(openaiSse({ model: "fake-model", text, finishReason }));

const example = (name: string, args: string[]) =>
  spawnLines([process.execPath, join(EXAMPLES, name), ...args], { env: { CRABTALK_HOME: home } });

beforeAll(async () => {
  fake = await FakeProvider.start();
  home = tempHome();
  d = await startDaemon({ home, config: config(fake.url) });
});

afterAll(async () => {
  await d?.cleanup();
  await fake?.stop();
});

test("notifier: one line per final answer, for every agent", async () => {
  const p = example("notifier.ts", ["--count", "2"]);
  await p.waitLine((l) => l.raw === "listening", "the subscription");
  fake.enqueue(reply("crab says hi"), reply("ops says hi"));
  const c = await CrabtalkClient.connect({ home });
  const a = await c.send("crab", "hello");
  const b = await c.send("ops", "hello");
  c.close();
  // Bounded, so a notifier that missed an answer fails here with what it printed (and not the whole file at the timeout).
  let timer: ReturnType<typeof setTimeout> | undefined;
  const code = await Promise.race([
    p.exited,
    new Promise<number>((_, reject) => {
      timer = setTimeout(() => {
        p.kill();
        reject(
          new Error(`the notifier did not exit within 20 s; stdout: ${JSON.stringify(p.lines)}; stderr: ${p.stderr()}`),
        );
      }, 20_000);
    }),
  ]);
  clearTimeout(timer);
  expect(code).toBe(0);
  expect(p.lines.map((l) => l.raw)).toEqual([
    "listening",
    `crab #${a.session}: crab says hi [stop]`,
    `ops #${b.session}: ops says hi [stop]`,
  ]);
});

test("run-turn: prints the answer and exits with the stop reason", async () => {
  fake.enqueue(reply("all good"));
  const ok = example("run-turn.ts", ["crab", "check"]);
  expect(await ok.exited).toBe(0);
  expect(ok.lines[0]).toEqual({ raw: "all good" });
  expect(ok.stderr()).toContain("stop_reason: stop");

  fake.enqueue(reply("cut sho", "length"));
  const cut = example("run-turn.ts", ["crab", "check"]);
  expect(await cut.exited).toBe(3);
  expect(cut.stderr()).toContain("stop_reason: length");

  const unknown = example("run-turn.ts", ["nobody", "check"]);
  expect(await unknown.exited).not.toBe(0);
  expect(unknown.stderr()).toContain("nobody");
});

test("watcher: survives a daemon restart and misses nothing", async () => {
  fake.enqueue(reply("first turn"));
  const c = await CrabtalkClient.connect({ home });
  const session = (await c.send("crab", "one")).session;
  c.close();

  const w = example("watcher.ts", [String(session), "--after", "0", "--turns", "2"]);
  await w.waitLine((l) => typeof l.raw === "string" && l.raw.endsWith(" end"), "the first turn's end");
  expect(await d.stop()).toBe(0);
  d = await startDaemon({ home });
  // The second turn may run before the watcher is back: it must be replayed then, not lost.
  fake.enqueue(reply("second turn after restart"));
  const c2 = await CrabtalkClient.connect({ home });
  await c2.send("crab", "two", { session });
  c2.close();
  const code = await w.exited;
  if (code !== 0) throw new Error(`watcher exited ${code}: ${JSON.stringify(w.lines)} ${w.stderr()}`);
  const lines = w.lines.map((l) => String(l.raw));
  expect(lines.some((l) => l.startsWith("# reconnected"))).toBe(true);

  // What a fresh watcher replays from the trace is exactly what the live one printed.
  const replay = example("watcher.ts", [String(session), "--after", "0", "--turns", "2"]);
  expect(await replay.exited).toBe(0);
  const events = lines.filter((l) => !l.startsWith("#"));
  expect(events).toEqual(replay.lines.map((l) => String(l.raw)));
  expect(events.filter((l) => l.endsWith(" end"))).toHaveLength(2);
  const text = events.map((l) => /^\d+ chunk (.*)$/.exec(l)?.[1]).filter((t) => t !== undefined);
  expect(text.map((t) => JSON.parse(t) as string).join("")).toBe("first turnsecond turn after restart");
}, 60_000);

test("the guide's TypeScript client runs as written (its package import pointed at sdk/typescript)", async () => {
  const guide = await Bun.file(join(import.meta.dir, "..", "..", "docs", "build-a-client.md")).text();
  const block = /^```ts\n([\s\S]*?)^```/m.exec(guide)?.[1];
  if (!block) throw new Error("docs/build-a-client.md has no ```ts block");
  const sdk = join(import.meta.dir, "..", "..", "sdk", "typescript", "src", "index.ts");
  const file = join(tempHome("crabtalk-guide-"), "guide.ts");
  await Bun.write(file, block.replace('"@crabtalk/client"', JSON.stringify(sdk)));
  fake.enqueue(reply("three files"));
  const p = spawnLines([process.execPath, file], { env: { CRABTALK_HOME: home } });
  expect(await p.exited).toBe(0);
  expect(p.lines.map((l) => l.raw)).toEqual(["three files", "[stop, 5 tokens]", "no such session"]);
});
