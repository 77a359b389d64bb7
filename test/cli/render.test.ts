/**
 * The terminal renderer without a terminal: streaming Markdown gives the
 * same screen however the answer is split, styles never leak past a line,
 * colour off means no escape code at all, colour rules follow NO_COLOR
 * and FORCE_COLOR, and a turn renders as tool lines with durations and a
 * footer that fit the width.
 */
import { describe, expect, test } from "bun:test";
import { MarkdownStream } from "../../src/cli/render/markdown.ts";
import { colorEnabled, makeStyle, stripAnsi, truncate, displayWidth } from "../../src/cli/render/style.ts";
import { summarizeArguments, formatDurationMs, formatUsage } from "../../src/cli/render/format.ts";
import { TurnRenderer, type Sink } from "../../src/cli/render/turn.ts";
import { EventLines } from "../../src/cli/render/events-line.ts";
import type { StreamEvent } from "../../src/protocol/gen/crabtalk.ts";

const color = makeStyle(true);
const plain = makeStyle(false);
const ESC = "\x1b";

function renderMd(pieces: string[], style = color): string {
  const md = new MarkdownStream(style, () => 80);
  return pieces.map((p) => md.push(p)).join("") + md.end();
}

const ANSWER =
  "# Plan\n\nHere is **bold** and `code` and a * star.\n\n- first\n* second\n1. third\n> quoted **b**\n---\n```js\nconst x = **1**;\n```\nDone **unclosed\nnext line";

describe("MarkdownStream", () => {
  test("formats headings, bold, code, bullets, quotes, rules and fences", () => {
    const out = renderMd([ANSWER]);
    const text = stripAnsi(out);
    expect(text).toContain("Plan\n");
    expect(text).not.toContain("# Plan");
    expect(text).toContain("Here is bold and code and a * star.");
    expect(text).toContain("• first\n• second\n1. third\n");
    expect(text).toContain("│ quoted b\n");
    expect(text).toContain("─".repeat(40));
    // Inside a fence nothing is interpreted.
    expect(text).toContain("```js\nconst x = **1**;\n```\n");
    expect(out).toContain(`${ESC}[1mbold${ESC}[22m`);
    expect(out).toContain(`${ESC}[36mcode${ESC}[39m`);
  });

  test("gives the same output however the stream is split", () => {
    const whole = renderMd([ANSWER]);
    for (const size of [1, 2, 3, 7]) {
      const pieces: string[] = [];
      for (let i = 0; i < ANSWER.length; i += size) pieces.push(ANSWER.slice(i, i + size));
      expect(renderMd(pieces)).toBe(whole);
    }
  });

  test("an unclosed style ends with its line", () => {
    const out = renderMd(["Done **unclosed\nnext line"]);
    const lastLine = out.split("\n").pop()!;
    expect(lastLine).toBe("next line");
    const first = out.split("\n")[0]!;
    expect(first.endsWith(`${ESC}[22m`)).toBe(true);
  });

  test("text is written as soon as it is unambiguous", () => {
    const md = new MarkdownStream(color, () => 80);
    expect(md.push("Hello wor")).toBe("Hello wor");
    expect(md.push("ld *")).toBe("ld ");
    expect(md.push("x")).toBe("*x");
  });

  test("colour off passes the model's Markdown through unchanged", () => {
    expect(renderMd([ANSWER], plain)).toBe(ANSWER);
  });
});

describe("colour rules", () => {
  test("NO_COLOR wins, FORCE_COLOR forces, else only on a terminal", () => {
    expect(colorEnabled(true, {})).toBe(true);
    expect(colorEnabled(false, {})).toBe(false);
    expect(colorEnabled(true, { NO_COLOR: "1" })).toBe(false);
    expect(colorEnabled(true, { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
    expect(colorEnabled(false, { FORCE_COLOR: "1" })).toBe(true);
    expect(colorEnabled(true, { FORCE_COLOR: "0" })).toBe(false);
    expect(colorEnabled(true, { TERM: "dumb" })).toBe(false);
    expect(colorEnabled(true, { NO_COLOR: "" })).toBe(true);
  });
});

describe("formatters", () => {
  test("argument summaries pick the telling argument and stay on one line", () => {
    expect(summarizeArguments("bash", JSON.stringify({ command: "sleep 30\necho done" }))).toBe("sleep 30 echo done");
    expect(summarizeArguments("read", JSON.stringify({ path: "/etc/hosts" }))).toBe("/etc/hosts");
    expect(summarizeArguments("search", JSON.stringify({ query: "crabs" }))).toBe("crabs");
    expect(summarizeArguments("x", JSON.stringify({ a: 1, b: "two" }))).toBe('{"a":1,"b":"two"}');
    expect(summarizeArguments("x", "not json")).toBe("not json");
  });

  test("durations, usage and truncation", () => {
    expect(formatDurationMs(42)).toBe("42ms");
    expect(formatDurationMs(1500)).toBe("1.5s");
    expect(formatDurationMs(125_000)).toBe("2m05s");
    expect(
      formatUsage({
        promptTokens: 1234,
        completionTokens: 5,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        reasoningTokens: 3,
      }),
    ).toBe("1,234 in · 5 out · 3 reasoning");
    expect(truncate("abcdef", 4)).toBe("abc…");
    expect(displayWidth(truncate("日本語のテキスト", 7))).toBeLessThanOrEqual(7);
  });
});

function sink(columns = 80, isTTY = false): Sink & { text: string } {
  const s = {
    text: "",
    isTTY,
    columns: () => columns,
    write: (t: string) => {
      s.text += t;
    },
  };
  return s;
}

let seq = 0;
function ev(init: Partial<StreamEvent>, ts = 1_000): StreamEvent {
  const kind = Object.keys(init).find((k) => k !== "seq")! as NonNullable<StreamEvent["event"]>;
  return { ...init, event: kind, seq: ++seq, session: 1, timestampMs: ts } as StreamEvent;
}

const usage = (p: number, c: number) => ({
  promptTokens: p,
  completionTokens: c,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
});
const LONG = "x".repeat(300);
const TURN: StreamEvent[] = [
  ev({ start: { agent: "crab", session: 1, sender: "cli" } }, 1_000),
  ev({ thinking: { content: "hmm" } }, 1_010),
  ev({ chunk: { content: "Let me **check**." } }, 1_020),
  ev({ modelEnd: { model: "m1", usage: usage(10, 5), stopReason: "tool_calls" } }, 1_030),
  ev(
    {
      toolStart: {
        calls: [
          { id: "a", name: "bash", arguments: JSON.stringify({ command: `sleep 1 && ${LONG}` }) },
          { id: "b", name: "read", arguments: JSON.stringify({ path: "/nope" }) },
        ],
      },
    },
    1_040,
  ),
  ev(
    { toolResult: { callId: "a", name: "bash", output: "ok", durationMs: 1_000, isError: false, details: "" } },
    2_040,
  ),
  ev(
    {
      toolResult: {
        callId: "b",
        name: "read",
        output: "ENOENT: no such file\nmore",
        durationMs: 3,
        isError: true,
        details: "",
      },
    },
    2_041,
  ),
  ev({ toolsComplete: {} }, 2_042),
  ev({ chunk: { content: "Done." } }, 2_100),
  ev({ modelEnd: { model: "m1", usage: usage(20, 3), stopReason: "stop" } }, 2_110),
  ev({ end: { agent: "crab", model: "m1", usage: usage(30, 8), stopReason: "stop", error: "", errorCode: 0 } }, 2_200),
];

describe("TurnRenderer", () => {
  test("plain: tool lines with duration and outcome, then the footer, no escape codes", () => {
    const out = sink(80);
    const r = new TurnRenderer({ style: plain, sink: out, animate: false });
    for (const e of TURN) r.event(e);
    r.dispose();
    expect(out.text).not.toContain(ESC);
    const lines = out.text.split("\n");
    expect(lines[0]).toBe("hmm");
    expect(lines).toContain("Let me **check**.");
    const bash = lines.find((l) => l.startsWith("✓ bash sleep 1 && xxx"))!;
    expect(bash.endsWith("… · 1.0s")).toBe(true);
    expect(lines).toContain("✗ read /nope · 3ms");
    expect(lines).toContain("  └ ENOENT: no such file more");
    expect(lines).toContain("Done.");
    expect(lines).toContain("─ m1 · 30 in · 8 out · 1.2s");
    for (const l of lines) expect(displayWidth(l)).toBeLessThan(80);
  });

  test("animated at 40 columns: every line, spinner included, fits the width", () => {
    const out = sink(40, true);
    const r = new TurnRenderer({ style: color, sink: out, animate: true });
    r.begin();
    for (const e of TURN) r.event(e);
    r.dispose();
    for (const frame of out.text.split(/\r|\n/)) expect(displayWidth(stripAnsi(frame))).toBeLessThan(40);
    // The live line is cleared before anything else is printed.
    expect(stripAnsi(out.text)).toContain("✓ bash");
  });

  test("cancelled turn: unfinished tools are closed and the footer says so", () => {
    const out = sink(80);
    const r = new TurnRenderer({ style: plain, sink: out, animate: false });
    r.event(ev({ start: { agent: "crab", session: 1, sender: "cli" } }, 5_000));
    r.event(ev({ toolStart: { calls: [{ id: "s", name: "bash", arguments: '{"command":"sleep 30"}' }] } }, 5_010));
    r.event(
      ev(
        { end: { agent: "crab", model: "m1", usage: usage(1, 1), stopReason: "aborted", error: "", errorCode: 0 } },
        7_000,
      ),
    );
    expect(out.text).toBe("✗ bash sleep 30 · cancelled\n─ m1 · 1 in · 1 out · 2.0s · cancelled\n");
  });

  test("failed turn shows the error under the footer", () => {
    const out = sink(80);
    const r = new TurnRenderer({ style: plain, sink: out, animate: false });
    r.event(ev({ chunk: { content: "partial" } }));
    r.event(
      ev({
        end: {
          agent: "crab",
          model: "m1",
          usage: usage(0, 0),
          stopReason: "error",
          error: "provider said 500",
          errorCode: 502,
        },
      }),
    );
    expect(out.text).toContain("partial\n─ m1 · 0 in · 0 out");
    expect(out.text).toContain("✗ provider said 500\n");
  });
});

describe("EventLines", () => {
  test("one line per start, tool, end; the answer preview; all within the width", () => {
    const lines = new EventLines(plain, () => 60);
    const out = TURN.flatMap((e) =>
      lines.lines({ agent: "crab", session: 1, kind: e.event!, payload: e, timestampMs: e.timestampMs }),
    );
    const text = out.join("\n");
    expect(text).toContain("crab #1 ▶ turn started by cli");
    expect(text).toContain("crab #1 ⚙ bash sleep 1");
    expect(text).toContain("crab #1 ✓ bash 1.0s");
    expect(text).toContain("crab #1 ✗ read 3ms ENOENT");
    expect(text).toContain("crab #1 ■ done · m1 · 30 in · 8 out · 1.2s");
    expect(text).toContain("“Done.”");
    for (const l of out) expect(displayWidth(l)).toBeLessThan(60);
  });
});
