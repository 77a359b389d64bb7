/**
 * The Telegram gateway's pure text logic: the 4,096-character splitter,
 * Markdown -> MarkdownV2 conversion and escaping, the edit throttle, and
 * the access rules (deny by default, groups only when addressed).
 */
import { describe, expect, test } from "bun:test";
import type { Message } from "grammy/types";
import { decideAccess } from "../../src/gateway/telegram/access.ts";
import { escapeMarkdownV2, toMarkdownV2 } from "../../src/gateway/telegram/markdown.ts";
import { sourceMatches } from "../../src/gateway/telegram/notify.ts";
import { splitMessage, TELEGRAM_LIMIT } from "../../src/gateway/telegram/split.ts";
import { EditThrottle } from "../../src/gateway/telegram/throttle.ts";

describe("splitMessage", () => {
  test("short text is one part, unchanged", () => {
    expect(splitMessage("hello\n\nworld")).toEqual(["hello\n\nworld"]);
  });

  test("cuts at the last paragraph break inside the limit, dropping only that separator", () => {
    const a = "a".repeat(3000);
    const b = "b".repeat(2000);
    expect(splitMessage(`${a}\n\n${b}`)).toEqual([a, b]);
  });

  test("falls back to a line break, then a space, then a hard cut", () => {
    const line = `${"x".repeat(3000)}\n${"y".repeat(2000)}`;
    expect(splitMessage(line)).toEqual(["x".repeat(3000), "y".repeat(2000)]);
    const words = `${"x".repeat(3000)} ${"y".repeat(2000)}`;
    expect(splitMessage(words)).toEqual(["x".repeat(3000), "y".repeat(2000)]);
    const solid = "z".repeat(5000);
    expect(splitMessage(solid)).toEqual(["z".repeat(TELEGRAM_LIMIT), "z".repeat(5000 - TELEGRAM_LIMIT)]);
  });

  test("never cuts a surrogate pair", () => {
    const text = `${"a".repeat(TELEGRAM_LIMIT - 1)}😀${"b".repeat(10)}`;
    const parts = splitMessage(text);
    expect(parts.join("")).toBe(text);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(TELEGRAM_LIMIT);
    expect(parts[1]!.startsWith("😀")).toBe(true);
  });

  test("10,000 characters of paragraphs: every part within the limit, nothing lost, cut only at paragraph breaks", () => {
    const paras = Array.from({ length: 50 }, (_, i) => `Paragraph ${i}: ${"word ".repeat(38)}end.`);
    const text = paras.join("\n\n");
    const parts = splitMessage(text);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(TELEGRAM_LIMIT);
    expect(parts.join("\n\n")).toBe(text);
    for (const p of parts.slice(0, -1)) expect(p.endsWith("end.")).toBe(true);
  });
});

describe("MarkdownV2", () => {
  test("escapes every special character in plain text", () => {
    expect(escapeMarkdownV2("a_b*c[d](e)~f`g>h#i+j-k=l|m{n}o.p!q\\r")).toBe(
      "a\\_b\\*c\\[d\\]\\(e\\)\\~f\\`g\\>h\\#i\\+j\\-k\\=l\\|m\\{n\\}o\\.p\\!q\\\\r",
    );
  });

  test("converts bold, italic, code, links, headings and bullets", () => {
    expect(toMarkdownV2("**Bold** and *it* and `x.y()` and [site](https://a.b/c)")).toBe(
      "*Bold* and _it_ and `x.y()` and [site](https://a.b/c)",
    );
    expect(toMarkdownV2("# Title!\n- one.\n- two")).toBe("*Title\\!*\n• one\\.\n• two");
  });

  test("code blocks keep their content, escaping only ` and \\", () => {
    expect(toMarkdownV2("```ts\nconst a = b.c(1);\n```")).toBe("```ts\nconst a = b.c(1);\n```");
    expect(toMarkdownV2("```\nunclosed *x*")).toBe("```\nunclosed *x*\n```");
  });
});

describe("EditThrottle", () => {
  test("the first edit goes at once, the next after the interval", () => {
    const t = new EditThrottle(1000);
    expect(t.delay(5000)).toBe(0);
    t.sent(5000);
    expect(t.delay(5200)).toBe(800);
    expect(t.delay(6000)).toBe(0);
  });

  test("a 429 holds edits for retry_after seconds", () => {
    const t = new EditThrottle(1000);
    t.sent(0);
    t.rateLimited(100, 3);
    expect(t.delay(1500)).toBe(1600);
    expect(t.delay(3100)).toBe(0);
  });
});

describe("access", () => {
  const me = { id: 666, username: "TestNameBot" };
  const msg = (over: Partial<Message> & { fromId?: number }): Message =>
    ({
      message_id: 1,
      date: 0,
      chat: { id: 5, type: "private", first_name: "u" },
      from: { id: over.fromId ?? 1, is_bot: false, first_name: "u" },
      text: "hi",
      ...over,
    }) as Message;

  test("an empty allow list serves nobody, and says so", () => {
    const a = decideAccess(msg({}), me, new Set());
    expect(a.serve).toBe(false);
    if (!a.serve) expect(a.why).toContain("refused user 1");
  });

  test("groups: only allowed users who mention or reply to the bot; the mention is stripped", () => {
    const group = { id: -7, type: "group", title: "g" } as Message["chat"];
    expect(decideAccess(msg({ chat: group, text: "hello all" }), me, new Set([1])).serve).toBe(false);
    const mentioned = decideAccess(msg({ chat: group, text: "@TestNameBot what time" }), me, new Set([1]));
    expect(mentioned).toEqual({ serve: true, text: "what time" });
    const reply = msg({ chat: group, text: "and then?", reply_to_message: msg({ fromId: 666 }) as never });
    expect(decideAccess(reply, me, new Set([1])).serve).toBe(true);
    expect(decideAccess(msg({ chat: group, text: "@TestNameBot hi", fromId: 2 }), me, new Set([1])).serve).toBe(false);
  });
});

test("notify sources match exactly or by glob", () => {
  expect(sourceMatches("cron:*:done", "cron:brief:done")).toBe(true);
  expect(sourceMatches("cron:*:done", "cron:brief:failed")).toBe(false);
  expect(sourceMatches("deploy:web", "deploy:web")).toBe(true);
});
