/**
 * The view checkpoint's message encoding (src/store/view-codec.ts): every
 * message comes back equal, the shapes the columns do not cover are kept
 * whole, and decoding refuses parts that do not fit together instead of
 * building wrong messages.
 */
import { describe, expect, test } from "bun:test";
import type { Message } from "../../src/provider/types.ts";
import { pairToolResults } from "../../src/store/fold.ts";
import {
  decodeMessages,
  decodeMessagesSplit,
  type EncodedMessages,
  encodeMessages,
} from "../../src/store/view-codec.ts";

const usage = { promptTokens: 120, completionTokens: 7, cacheReadTokens: 64, cacheWriteTokens: 0, reasoningTokens: 3 };

/** One of each shape the columns cover, and several they do not. */
const covered: Message[] = [
  { role: "user", content: "plain question" },
  { role: "user", content: "with a time", timestamp: 1767225600123 },
  { role: "user", content: "" },
  { role: "user", content: "café, crab 🦀, 漢字", timestamp: 1 },
  { role: "assistant", content: "the usual answer", model: "gpt-4o", stopReason: "stop", usage, timestamp: 17 },
  { role: "assistant", content: "same model again", model: "gpt-4o", stopReason: "length", usage, timestamp: 18 },
  { role: "assistant", content: "no accounting" },
  { role: "assistant", content: "only a time", timestamp: 19 },
  { role: "assistant", content: "a model, no usage", model: "deepseek-chat" },
  { role: "tool", toolCallId: "call_1", name: "read", content: "file text", isError: false },
  { role: "tool", toolCallId: "call_2", name: "bash", content: "exit 1", isError: true, timestamp: 20 },
];
const uncovered: Message[] = [
  {
    role: "assistant",
    content: "",
    toolCalls: [{ id: "call_1", name: "read", rawArguments: '{"path":"a"}', arguments: { path: "a" } }],
    timestamp: 21,
  },
  { role: "assistant", content: "thought first", thinking: [{ type: "thinking", text: "hm", signature: "sig" }] },
  { role: "assistant", content: "odd usage", usage: { ...usage, extra: 1 } as typeof usage },
  { role: "user", content: "a lone surrogate \ud83e cannot be UTF-8" },
  { role: "tool", toolCallId: "\udc00", name: "read", content: "id not well-formed", isError: false },
  { role: "user", content: "an unknown field", source: "telegram" } as Message,
  { role: "tool", toolCallId: "call_3", name: "read", content: "no isError" } as unknown as Message,
];

/** What the checkpoint does to the text: written as UTF-8, read back with a decoder. */
function throughFile(e: EncodedMessages): EncodedMessages {
  return {
    columns: new Float64Array(e.columns),
    strings: JSON.parse(JSON.stringify(e.strings)),
    other: JSON.parse(JSON.stringify(e.other)),
    text: new TextDecoder().decode(Buffer.from(e.text)),
  };
}

describe("view codec", () => {
  test("every covered shape comes back equal through the file, with nothing kept whole", () => {
    const e = encodeMessages(covered);
    expect(e.other).toEqual([]);
    // Models and stop reasons are a table, each once.
    expect([...e.strings].sort()).toEqual(["deepseek-chat", "gpt-4o", "length", "stop"]);
    expect(decodeMessages(throughFile(e), covered.length)).toEqual(covered);
  });

  test("shapes the columns do not cover are kept whole, in their place among the others", () => {
    const mixed = covered.flatMap((m, i) => (uncovered[i] ? [m, uncovered[i]!] : [m]));
    const e = encodeMessages(mixed);
    expect(e.other).toHaveLength(uncovered.length);
    const back = decodeMessages(throughFile(e), mixed.length);
    expect(back).toEqual(mixed);
    expect(back?.[mixed.indexOf(uncovered[3]!)]?.content).toBe("a lone surrogate \ud83e cannot be UTF-8");
  });

  test("an empty list encodes to nothing and decodes to an empty list", () => {
    const e = encodeMessages([]);
    expect(e.columns).toHaveLength(0);
    expect(e.text).toBe("");
    expect(decodeMessages(e, 0)).toEqual([]);
  });

  describe("parts that do not fit together are refused", () => {
    const good = () => {
      const e = encodeMessages([...covered, uncovered[0]!]);
      return { ...e, columns: Array.from(e.columns) };
    };
    const cases: [string, (e: ReturnType<typeof good>) => [EncodedMessages, number]][] = [
      ["one message fewer than encoded", (e) => [e, covered.length]],
      ["one message more than encoded", (e) => [e, covered.length + 2]],
      ["text left over", (e) => [{ ...e, text: `${e.text}x` }, covered.length + 1]],
      ["text cut short", (e) => [{ ...e, text: e.text.slice(0, -1) }, covered.length + 1]],
      [
        "a length past the end of the text",
        (e) => {
          e.columns[1] = e.text.length + 1;
          return [e, covered.length + 1];
        },
      ],
      [
        "a length that is not a whole number",
        (e) => {
          e.columns[1] = 2.5;
          return [e, covered.length + 1];
        },
      ],
      [
        "a kind the columns do not have",
        (e) => {
          e.columns[0] = 7 * 16;
          return [e, covered.length + 1];
        },
      ],
      [
        "a user message with an assistant's field bits",
        (e) => {
          e.columns[0] = 0 * 16 + 2;
          return [e, covered.length + 1];
        },
      ],
      ["a model index outside the table", (e) => [{ ...e, strings: [] }, covered.length + 1]],
      [
        "a usage number that is not finite",
        (e) => {
          // The first full assistant answer: kind/bits, length, timestamp, model, stop, then usage.
          const at = e.columns.indexOf(1 * 16 + 15);
          e.columns[at + 5] = Number.NaN;
          return [e, covered.length + 1];
        },
      ],
      [
        "a message kept whole that is not a message",
        (e) => [{ ...e, other: [{ role: 7 }] as never }, covered.length + 1],
      ],
      ["a message kept whole missing", (e) => [{ ...e, other: [] }, covered.length + 1]],
    ];
    for (const [name, spoil] of cases)
      test(name, () => {
        const [e, count] = spoil(good());
        expect(decodeMessages(e, count)).toBeUndefined();
      });

    test("the unspoilt parts decode (so each case above fails for its own reason)", () => {
      expect(decodeMessages(good(), covered.length + 1)).toEqual([...covered, uncovered[0]!]);
    });
  });

  describe("split: every message checked now, the first ones built on first use", () => {
    const calls = (...ids: string[]) => ids.map((id) => ({ id, name: "read", rawArguments: "{}", arguments: {} }));
    /** A conversation pairToolResults leaves as it is: calls answered, in the columns and kept whole. */
    const talk: Message[] = [
      { role: "user", content: "read two files", timestamp: 1 },
      { role: "assistant", content: "", toolCalls: calls("c1", "c2"), timestamp: 2 },
      { role: "tool", toolCallId: "c1", name: "read", content: "one", isError: false, timestamp: 3 },
      { role: "tool", toolCallId: "c2", name: "read", content: "two", isError: true },
      { role: "assistant", content: "done", model: "gpt-4o", stopReason: "stop", usage, timestamp: 4 },
      { role: "user", content: "thanks 🦀" },
      { role: "assistant", content: "", toolCalls: calls("c3") },
      { role: "tool", toolCallId: "c3", name: "read", content: "x", isError: false } as Message,
      { role: "assistant", content: "bye" },
    ];
    const encoded = () => throughFile(encodeMessages(talk));
    // Where no call is waiting for its result: before a user or assistant message, and at the end.
    const clean = [0, 1, 4, 5, 6, 8, 9];

    test("at a clean point, the head and the rest are the whole decode; the head is the same objects on every call", () => {
      const whole = decodeMessages(encoded(), talk.length)!;
      expect(pairToolResults(talk)).toEqual(talk);
      for (const split of clean) {
        const parts = decodeMessagesSplit(encoded(), talk.length, split)!;
        expect({ split, rest: parts.rest }).toEqual({ split, rest: whole.slice(split) });
        expect(parts.buildHead()).toEqual(whole.slice(0, split));
        expect(parts.buildHead()).toBe(parts.buildHead());
      }
    });

    test("a split between a call and its result is refused (pairing the rest alone would change it)", () => {
      for (const split of [2, 3, 7]) expect(decodeMessagesSplit(encoded(), talk.length, split)).toBeUndefined();
    });

    test("a head pairToolResults would change is refused: a result without its call, a call without its result", () => {
      const orphan: Message[] = [{ role: "user", content: "hi" }, talk[2]!, { role: "assistant", content: "ok" }];
      expect(decodeMessagesSplit(throughFile(encodeMessages(orphan)), 3, 3)).toBeUndefined();
      const unanswered: Message[] = [talk[0]!, talk[1]!, talk[5]!, talk[8]!];
      expect(decodeMessagesSplit(throughFile(encodeMessages(unanswered)), 4, 3)).toBeUndefined();
      // Both are fine when they are not in the head: only the head's pairing is taken on trust.
      expect(decodeMessagesSplit(throughFile(encodeMessages(orphan)), 3, 1)?.rest).toEqual(orphan.slice(1));
    });

    test("damage in the head is refused when checked, not when built", () => {
      const e = { ...encoded(), columns: Array.from(encoded().columns) };
      e.columns[1] = e.text.length + 1; // the first message's length
      expect(decodeMessagesSplit(e, talk.length, 5)).toBeUndefined();
      expect(decodeMessagesSplit(encoded(), talk.length + 1, 5)).toBeUndefined();
      expect(decodeMessagesSplit(encoded(), talk.length, talk.length + 1)).toBeUndefined();
    });

    test("the head is built from the columns on its first use, not before", () => {
      const e = { ...encoded(), columns: Array.from(encoded().columns) };
      const parts = decodeMessagesSplit(e, talk.length, 5)!;
      e.columns[1] = e.text.length + 1; // spoiled after the check: a head built at the split would not see it
      expect(() => parts.buildHead()).toThrow("a checked head failed to build");
    });
  });
});
