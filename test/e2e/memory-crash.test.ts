/**
 * Memory writes under pressure, against the compiled daemon: twenty
 * concurrent remembers from two agents all land intact, and a kill -9 in
 * the middle of a flood of rewrites leaves every entry whole (the old
 * version or one of the new ones, never a torn mix).
 */
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FakeProvider, sseReply, type RecordedRequest, type Reply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { messagesOf, lastUserText, streamTurn, turnConfig, waitFor } from "../helpers/turn-kit.ts";
import { parseFrontmatter } from "../../src/skills/files.ts";
import { runCrabtalk } from "./cli-kit.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function stack(
  brain: (req: RecordedRequest) => Reply,
  extra: string,
): Promise<{ d: DaemonHandle; home: string }> {
  const fake = await FakeProvider.start();
  fake.route(brain);
  const home = tempHome("crabtalk-memcrash-");
  const config = `${turnConfig(fake.url, 'tools = ["memory/*"]\nmax_iterations = 1000\n')}${extra}`;
  const d = await startDaemon({ home, config });
  cleanups.push(async () => {
    await d.cleanup();
    await fake[Symbol.asyncDispose]();
    rmSync(home, { recursive: true, force: true });
  });
  return { d, home };
}

test("twenty concurrent remembers from two agents leave twenty intact entries", async () => {
  // "batch X": ten remember calls in one reply (they run concurrently), names X-0..X-9.
  const brain = (req: RecordedRequest): Reply => {
    if (messagesOf(req).at(-1)?.role === "tool") return sseReply(openaiSse({ text: "done" }));
    const prefix = lastUserText(req).replace("batch ", "");
    const toolCalls = Array.from({ length: 10 }, (_, i) => ({
      id: `c${req.index}-${i}`,
      name: "remember",
      args: { name: `${prefix}-${i}`, description: `entry ${i} of ${prefix}`, content: `${prefix} says ${i}` },
    }));
    return sseReply(openaiSse({ toolCalls }));
  };
  const { d, home } = await stack(brain, '\n[agents.other]\nmodel = "fake-model"\ntools = ["memory/*"]\n');
  const [a, b] = await Promise.all([d.client(), d.client()]);
  await Promise.all([
    streamTurn(a, { agent: "crab", content: "batch crab" }),
    streamTurn(b, { agent: "other", content: "batch other" }),
  ]);
  a.close();
  b.close();
  const files = readdirSync(join(home, "memory")).sort();
  expect(files).toHaveLength(20);
  for (const who of ["crab", "other"])
    for (let i = 0; i < 10; i++) {
      const { data, body } = await parseFrontmatter(readFileSync(join(home, "memory", `${who}-${i}.md`), "utf8"));
      expect(data).toEqual({ name: `${who}-${i}`, description: `entry ${i} of ${who}` });
      expect(body.trim()).toBe(`${who} says ${i}`);
    }
  const listed = await runCrabtalk(home, ["memory", "--json"]);
  expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(20);
});

const ENTRIES = 30;
const PAD = 64 * 1024;
const version = (i: number, v: string) => `entry-${i} ${v} ${"x".repeat(PAD)}`;

test("kill -9 during a flood of rewrites leaves every entry old or new, never torn", async () => {
  // Every model reply rewrites all entries with the next version number, until the daemon dies.
  const brain = (req: RecordedRequest): Reply => {
    const round = messagesOf(req).filter((m) => m.role === "assistant").length;
    const toolCalls = Array.from({ length: ENTRIES }, (_, i) => ({
      id: `c${req.index}-${i}`,
      name: "remember",
      args: { name: `entry-${i}`, description: `entry ${i}`, content: version(i, `v${round + 1}`) },
    }));
    return sseReply(openaiSse({ toolCalls }));
  };
  const { d, home } = await stack(brain, "");
  const dir = join(home, "memory");
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < ENTRIES; i++)
    writeFileSync(
      join(dir, `entry-${i}.md`),
      `---\nname: entry-${i}\ndescription: entry ${i}\n---\n\n${version(i, "v0")}\n`,
    );
  const clients = await Promise.all([d.client(), d.client()]);
  for (const c of clients) void streamTurn(c, { content: "flood" }).catch(() => undefined);
  // Well into the flood: some entry is at its third rewrite, so writes are in flight all the time.
  await waitFor(
    () => readdirSync(dir).some((f) => f.endsWith(".md") && / v3 /.test(readFileSync(join(dir, f), "utf8"))),
    30_000,
    "a third round of rewrites",
  );
  await d.kill9();
  const seen = new Set<string>();
  for (let i = 0; i < ENTRIES; i++) {
    const { data, body } = await parseFrontmatter(readFileSync(join(dir, `entry-${i}.md`), "utf8"));
    expect(data).toEqual({ name: `entry-${i}`, description: `entry ${i}` });
    const m = new RegExp(`^entry-${i} (v\\d+) x{${PAD}}$`).exec(body.trim());
    expect(m).not.toBeNull();
    seen.add(m![1]!);
  }
  // The flood had rewritten entries before the kill.
  expect([...seen].some((v) => v !== "v0")).toBe(true);
  // Leftover temp files are hidden and never read as entries.
  const visible = readdirSync(dir).filter((f) => !f.startsWith("."));
  expect(visible.sort()).toEqual(Array.from({ length: ENTRIES }, (_, i) => `entry-${i}.md`).sort());
  const listed = await runCrabtalk(home, ["memory", "--json"]);
  expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(ENTRIES);
});
