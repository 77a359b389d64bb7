/**
 * The session commands of the compiled CLI against a running daemon:
 * `sessions` (table, --json, --agent, paging, bad flags exit 2),
 * `sessions search` (a message with a rare word ranks first; tool
 * arguments and output are never searched), `history`, `kill`, `rm` and
 * `compact`, each printing what the session holds, with exit codes 0, 1
 * (unknown id, daemon down) and 2 (malformed id).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { runCli, startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { contentText, messagesOf, turnConfig } from "../helpers/turn-kit.ts";

const CONFIG = (url: string) => turnConfig(url, '[agents.scout]\nmodel = "fake-model"');

let fake: FakeProvider;
let d: DaemonHandle;
let env: Record<string, string>;
const ids = { tool: 0, quokka: 0, scout: 0 };

async function send(agent: string, content: string, session?: number): Promise<number> {
  const c = await d.client();
  try {
    return Number((await c.request({ send: { agent: session ? "" : agent, content, session } })).response!.session);
  } finally {
    c.close();
  }
}

const cli = (...args: string[]) => runCli(args, env);

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route((req) => {
    const msgs = messagesOf(req);
    const last = msgs.at(-1)!;
    const text = contentText(last);
    if (text.startsWith("Summarize this conversation"))
      return sseReply(openaiSse({ text: "SUMMARY: kettles were discussed." }));
    if (last.role === "tool") return sseReply(openaiSse({ text: "The tool ran fine." }));
    if (text.includes("use the tool"))
      return sseReply(
        openaiSse({
          toolCalls: [{ id: "call_echo", name: "bash", args: { command: "echo zygomorphic # xylophonist" } }],
        }),
      );
    return sseReply(
      openaiSse({ text: `Noted about the kettle: ${text.length} characters.`, usage: { prompt: 40, completion: 8 } }),
    );
  });
  const home = tempHome("crabtalk-sessions-cli-");
  d = await startDaemon({ home, config: CONFIG(fake.url) });
  env = { CRABTALK_HOME: home };
  ids.tool = await send("crab", "Please use the tool to echo a word");
  ids.quokka = await send("crab", "The kettle whistled while a quokka watched the kettle boil");
  for (let i = 0; i < 4; i++)
    await send("crab", `kettle kettle number ${i}: descale the kettle, the kettle is a kettle`);
  ids.scout = await send("scout", "Scout the kettle aisle");
  await send("scout", "and compare prices of each kettle", ids.scout);
});

afterAll(async () => {
  await d?.cleanup();
  await fake?.stop();
  if (d) rmSync(d.home, { recursive: true, force: true });
});

describe("crabtalk sessions", () => {
  test("a table, newest first, with id, agent, title, messages, tokens, activity and state", async () => {
    const r = await cli("sessions");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+AGENT\s+TITLE\s+MSGS\s+TOKENS\s+LAST ACTIVITY\s+STATE$/);
    expect(lines).toHaveLength(1 + 7);
    // Newest activity first: the scout session had the last turn.
    expect(lines[1]).toMatch(
      new RegExp(`^${ids.scout}\\s+scout\\s+Scout the kettle aisle\\s+4\\s+96\\s+\\d+s ago\\s+live$`),
    );
    const quokkaRow = lines.find((l) => l.startsWith(`${ids.quokka} `))!;
    // Titles are cut to 40 columns in the table (the full title is in --json).
    expect(quokkaRow).toContain("The kettle whistled while a quokka watc…");
    expect(quokkaRow).toMatch(/\s2\s+48\s/);
  });

  test("--json, --agent and paging; a malformed number is a usage error (exit 2)", async () => {
    const all = JSON.parse((await cli("sessions", "--json")).stdout) as {
      total: number;
      sessions: { id: number; agent: string; title: string }[];
    };
    expect(all.sessions.find((s) => s.id === ids.quokka)!.title).toBe(
      "The kettle whistled while a quokka watched the kettle boil",
    );
    expect(all.total).toBe(7);
    const order = all.sessions.map((s) => s.id);
    expect(order[0]).toBe(ids.scout);
    const scouts = JSON.parse((await cli("sessions", "--agent", "scout", "--json")).stdout) as typeof all;
    expect(scouts.total).toBe(1);
    expect(scouts.sessions.map((s) => s.id)).toEqual([ids.scout]);
    const page = await cli("sessions", "--offset", "2", "--limit", "3");
    expect(page.code).toBe(0);
    const rows = page.stdout.trimEnd().split("\n");
    expect(rows.slice(1, 4).map((l) => Number(l.split(/\s+/)[0]))).toEqual(order.slice(2, 5));
    expect(rows.at(-1)).toBe("showing 3-5 of 7; next page: --offset 5");
    const bad = await cli("sessions", "--limit", "many");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--limit must be a whole number of at least 1, got "many"');
  });
});

describe("crabtalk sessions search", () => {
  test("the message with the rare word ranks first", async () => {
    const r = await cli("sessions", "search", "quokka kettle");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[0]).toMatch(
      new RegExp(`^session ${ids.quokka}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+user\\s+.*quokka`),
    );
    const json = JSON.parse((await cli("sessions", "search", "quokka kettle", "--json")).stdout) as {
      hits: { session: number; snippet: string; score: number }[];
    };
    expect(json.hits[0]!.session).toBe(ids.quokka);
    expect(json.hits[0]!.score).toBeGreaterThan(json.hits.at(-1)!.score);
  });

  test("tool arguments and output are not searched", async () => {
    for (const word of ["zygomorphic", "xylophonist"]) {
      const r = await cli("sessions", "search", word);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`no message matches "${word}"\n`);
    }
    // ...while history shows both: they are in the session, just not in the index.
    const h = await cli("history", String(ids.tool));
    expect(h.stdout).toContain("xylophonist");
    expect(h.stdout).toContain("zygomorphic");
  });
});

describe("crabtalk history, kill, rm, compact", () => {
  test("history prints every message with tool calls and results; --json for scripts", async () => {
    const r = await cli("history", String(ids.tool));
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith(`session ${ids.tool} (agent crab), 4 message(s)\n`);
    expect(r.stdout).toMatch(/\] user:\n {2}Please use the tool to echo a word\n/);
    expect(r.stdout).toContain('  -> bash({"command":"echo zygomorphic # xylophonist"}) [call_echo]\n');
    expect(r.stdout).toMatch(/\] tool result for call_echo:\n(.|\n)*zygomorphic/);
    expect(r.stdout).toMatch(/\] assistant:\n {2}The tool ran fine\.\n/);
    const json = JSON.parse((await cli("history", String(ids.tool), "--json")).stdout) as {
      session: number;
      messages: { role: string }[];
    };
    expect(json.session).toBe(ids.tool);
    expect(json.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant"]);
  });

  test("unknown id exits 1 with the daemon's 404; a malformed id exits 2", async () => {
    for (const cmd of ["history", "kill", "rm", "compact"]) {
      const r = await cli(cmd, "987654");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("404");
      expect(r.stderr).toContain("987654");
      const bad = await cli(cmd, "seven");
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('session id must be a whole number of at least 1, got "seven"');
    }
  });

  test("compact prints tokens before and after", async () => {
    const r = await cli("compact", String(ids.scout));
    expect(r.code).toBe(0);
    const m = /^compacted session (\d+): about (\d+) tokens -> (\d+)\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(ids.scout);
    expect(Number(m![2])).toBeGreaterThan(Number(m![3]));
  });

  test("kill ends a live session and keeps its history; rm removes it", async () => {
    const killed = await cli("kill", String(ids.quokka));
    expect(killed.code).toBe(0);
    expect(killed.stdout).toContain(`session ${ids.quokka} ended; its history stays on disk`);
    const row = (await cli("sessions")).stdout.split("\n").find((l) => l.startsWith(`${ids.quokka} `))!;
    expect(row).toMatch(/\s-$/);
    expect((await cli("history", String(ids.quokka))).stdout).toContain("a quokka watched");

    const removed = await cli("rm", String(ids.quokka));
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe(`session ${ids.quokka} deleted\n`);
    expect((await cli("sessions")).stdout).not.toContain("quokka");
    expect((await cli("history", String(ids.quokka))).code).toBe(1);
    const search = await cli("sessions", "search", "quokka");
    expect(search.stdout).toBe('no message matches "quokka"\n');
  });

  test("with the daemon down, commands exit 1 and say how to start it", async () => {
    const nowhere = tempHome("crabtalk-nodaemon-");
    const r = await runCli(["sessions"], { CRABTALK_HOME: nowhere });
    rmSync(nowhere, { recursive: true, force: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("crabtalk daemon");
  });
});
