/**
 * The SSE parser against the spec's framing rules, and against every
 * recorded stream cut at random read boundaries: the events must not
 * depend on where the network split the bytes.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseSse, SseParser, type SseEvent } from "../../src/provider/sse.ts";
import { FIXTURES_DIR } from "../helpers/fake-provider.ts";

function feedInPieces(bytes: Uint8Array, cuts: number[]): SseEvent[] {
  const parser = new SseParser();
  const out: SseEvent[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...parser.push(bytes.subarray(at, cut)));
    at = cut;
  }
  out.push(...parser.finish());
  return out;
}

/** A small seeded PRNG so a failure can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomCuts(length: number, count: number, next: () => number): number[] {
  const cuts = new Set<number>();
  while (cuts.size < Math.min(count, length - 1)) cuts.add(1 + Math.floor(next() * (length - 1)));
  return [...cuts].sort((a, b) => a - b);
}

describe("SseParser framing", () => {
  test("data, event, id, comments, multi-line data", () => {
    const events = parseSse(": hello\nevent: a\nid: 7\ndata: one\ndata:two\n\n: keep-alive\n\ndata: x\n\n");
    expect(events).toEqual([
      { event: "a", data: "one\ntwo", id: "7" },
      // Per spec the last event id persists until another id: line.
      { event: undefined, data: "x", id: "7" },
    ]);
  });

  test("CRLF and lone CR line ends, also split between CR and LF", () => {
    const text = "event: e\r\ndata: 1\r\n\r\ndata: 2\r\rdata: 3\n\n";
    const whole = parseSse(text);
    expect(whole.map((e) => e.data)).toEqual(["1", "2", "3"]);
    expect(whole[0]!.event).toBe("e");
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) expect(feedInPieces(bytes, [cut])).toEqual(whole);
  });

  test("a stream ending without the blank line still yields its last event", () => {
    expect(parseSse('data: a\n\nevent: error\ndata: {"x":1}')).toEqual([
      { event: undefined, data: "a" },
      { event: "error", data: '{"x":1}' },
    ]);
  });

  test("an event with no data is not dispatched and does not leak its type", () => {
    expect(parseSse("event: ping\n\ndata: a\n\n")).toEqual([{ event: undefined, data: "a" }]);
  });

  test("a multi-byte character split across reads survives", () => {
    const bytes = new TextEncoder().encode("data: héllo 🦀\n\n");
    for (let cut = 1; cut < bytes.length; cut++) expect(feedInPieces(bytes, [cut])[0]!.data).toBe("héllo 🦀");
  });

  test("counts comment lines (keep-alives)", () => {
    const parser = new SseParser();
    parser.push(": OPENROUTER PROCESSING\n\n: keep-alive\n\ndata: 1\n\n");
    expect(parser.comments).toBe(2);
  });
});

describe("SseParser on every recording, random split points", () => {
  const files = ["openai", "deepseek", "anthropic", "openai-responses"].flatMap((dir) =>
    readdirSync(join(FIXTURES_DIR, dir))
      .filter((f) => f.endsWith(".sse"))
      .map((f) => `${dir}/${f}`),
  );
  for (const file of files) {
    test(file, () => {
      const bytes = readFileSync(join(FIXTURES_DIR, file));
      const text = bytes.toString("utf8");
      // Independent expectation: the fixtures use LF and blank-line separators.
      const expected = text
        .split("\n\n")
        .filter((block) => block.split("\n").some((l) => l.startsWith("data:")))
        .map((block) =>
          block
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(6))
            .join("\n"),
        );
      const whole = parseSse(text);
      expect(whole.map((e) => e.data)).toEqual(expected);
      const next = rng(file.length * 7919);
      for (let round = 0; round < 20; round++) {
        expect(feedInPieces(bytes, randomCuts(bytes.length, 1 + Math.floor(next() * 200), next))).toEqual(whole);
      }
      expect(
        feedInPieces(
          bytes,
          Array.from({ length: bytes.length - 1 }, (_, i) => i + 1),
        ),
      ).toEqual(whole);
    });
  }
});
