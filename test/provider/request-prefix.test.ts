/**
 * Kept request prefixes (Provider.exportPrefix / importPrefix): the JSON a
 * provider's request holds for a history's first messages, written beside
 * a session's resume checkpoint and taken back after a resume, so the
 * first request encodes only what follows. Taken back for a history equal
 * to the one it was made from (new objects, as a resume decodes them), the
 * request is still JSON.stringify of the body object, byte for byte; the
 * request carries the kept JSON itself (a marker put in it shows up); a
 * prefix of another format, or longer than the history, is refused.
 */
import { describe, expect, test } from "bun:test";
import { buildMessagesBody, createAnthropicProvider, messagesBodyJson } from "../../src/provider/anthropic.ts";
import { buildChatBody, chatBodyJson, createOpenAIChatProvider } from "../../src/provider/openai-chat.ts";
import { headText, prefixFormat, takenJson } from "../../src/provider/kept-prefix.ts";
import type { Message, ModelRequest, Provider } from "../../src/provider/types.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { collect } from "../helpers/provider-events.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { httpOptions, openaiAt, mixedHistory } from "./setup.ts";

/** The same values in new objects: what a resume decodes from the checkpoint. */
const resumedCopy = (messages: Message[]): Message[] => structuredClone(messages);
const next: Message = { role: "user", content: "and now?" };
const BASE = "http://localhost:1/v1";

const openai = createOpenAIChatProvider({ name: "openai", baseUrl: BASE, http: httpOptions() });
const anthropic = createAnthropicProvider({ name: "anthropic", baseUrl: "http://localhost:1", http: httpOptions() });

interface Api {
  name: string;
  provider: Provider;
  /** The body as the provider sends it (kept JSON reused) and as JSON.stringify of the body object. */
  sent(request: ModelRequest): string;
  whole(request: ModelRequest): string;
}
const apis: Api[] = [
  {
    name: "openai-chat",
    provider: openai,
    sent: (r) => chatBodyJson(r, BASE),
    whole: (r) => JSON.stringify(buildChatBody(r, BASE)),
  },
  {
    name: "anthropic",
    provider: anthropic,
    sent: (r) => messagesBodyJson(r),
    whole: (r) => JSON.stringify(buildMessagesBody(r)),
  },
];

for (const api of apis) {
  describe(`${api.name}: a kept request prefix`, () => {
    test("taken back for an equal resumed history gives the request JSON.stringify gives, byte for byte", () => {
      const original = mixedHistory(40);
      const prefix = api.provider.exportPrefix!(original)!;
      expect(prefix.count).toBeGreaterThan(original.length / 2);
      expect(prefix.count).toBeLessThanOrEqual(original.length);
      const resumed = resumedCopy(original);
      expect(api.provider.importPrefix!(resumed, prefix)).toBe(true);
      const request: ModelRequest = { model: "m", system: "be brief", messages: [...resumed, next], maxTokens: 50 };
      expect(api.sent(request)).toBe(api.whole(request));
      // And again for the turn after (the kept JSON grown by the new messages).
      const later: ModelRequest = {
        ...request,
        messages: [...request.messages, { role: "assistant", content: "ok" }, next],
      };
      expect(api.sent(later)).toBe(api.whole(later));
    });

    test("taken back only after a request encoded the history itself (a slow read), the next is still byte for byte", () => {
      const original = mixedHistory(30);
      const prefix = api.provider.exportPrefix!(original)!;
      const resumed = resumedCopy(original);
      const first: ModelRequest = { model: "m", messages: [...resumed, next] };
      api.provider.prepare!(resumed);
      expect(api.sent(first)).toBe(api.whole(first));
      expect(api.provider.importPrefix!(resumed, prefix)).toBe(true);
      const second: ModelRequest = {
        model: "m",
        messages: [...first.messages, { role: "assistant", content: "ok" }, next],
      };
      expect(api.sent(second)).toBe(api.whole(second));
    });

    test("is what the first request carries: it is not encoded again", () => {
      const original = mixedHistory(10);
      const prefix = api.provider.exportPrefix!(original)!;
      const marked = {
        ...prefix,
        json: Buffer.from(Buffer.from(prefix.json).toString().replace("answer 0", "MARKER 0")),
      };
      const resumed = resumedCopy(original);
      expect(api.provider.importPrefix!(resumed, marked)).toBe(true);
      const body = api.sent({ model: "m", messages: [...resumed, next] });
      expect(body).toContain("MARKER 0");
      expect(body).not.toContain("answer 0");
      expect(body).toContain("and now?");
    });

    test("of another format, or counting more messages than the history holds, is refused", () => {
      const original = mixedHistory(10);
      const prefix = api.provider.exportPrefix!(original)!;
      const poisoned = { ...prefix, json: Buffer.from('{"role":"user","content":"MARKER"}') };
      const resumed = resumedCopy(original);
      expect(api.provider.importPrefix!(resumed, { ...poisoned, format: `${prefix.format}x` })).toBe(false);
      expect(api.provider.importPrefix!(resumed, { ...poisoned, count: resumed.length + 1 })).toBe(false);
      expect(api.provider.importPrefix!(resumed, { ...poisoned, count: 0 })).toBe(false);
      const request: ModelRequest = { model: "m", messages: [...resumed, next] };
      expect(api.sent(request)).not.toContain("MARKER");
      expect(api.sent(request)).toBe(api.whole(request));
    });

    test("is not offered for a history too short to have one", () => {
      expect(api.provider.exportPrefix!([])).toBeUndefined();
    });

    test("as a request's head (the messages it stands for not built), gives the body of the whole history", () => {
      const original = mixedHistory(40);
      const prefix = api.provider.exportPrefix!(original)!;
      expect(api.provider.takesPrefix!(prefix)).toBe(true);
      const rest = resumedCopy(original.slice(prefix.count));
      const whole: ModelRequest = { model: "m", system: "be brief", messages: [...original, next], maxTokens: 50 };
      const headed: ModelRequest = { ...whole, messages: [...rest, next], head: prefix };
      expect(api.sent(headed)).toBe(api.whole(whole));
      // A second request of the turn (after tools) carries it again, with what the turn produced after it.
      const answer: Message = { role: "assistant", content: "tool time" };
      expect(api.sent({ ...headed, messages: [...rest, next, answer] })).toBe(
        api.whole({ ...whole, messages: [...original, next, answer] }),
      );
    });

    test("is taken as a head only in its own format", () => {
      const prefix = api.provider.exportPrefix!(mixedHistory(10))!;
      expect(api.provider.takesPrefix!({ ...prefix, format: `${prefix.format}x` })).toBe(false);
      expect(api.provider.takesPrefix!({ ...prefix, count: 0 })).toBe(false);
    });

    test("made ready as a head: decoded once, ahead of the request, which sends that same text", () => {
      const history = mixedHistory(10);
      const exported = api.provider.exportPrefix!(history)!;
      // As read back from disk: bytes, not yet decoded.
      const prefix = { ...exported, json: new Uint8Array(exported.json) };
      const foreign = { ...prefix, format: `${prefix.format}x`, json: new Uint8Array(prefix.json) };
      api.provider.prepareHead!(foreign);
      expect(takenJson(foreign)).toBe(foreign.json);
      expect(takenJson(prefix)).toBe(prefix.json);
      api.provider.prepareHead!(prefix);
      const text = takenJson(prefix);
      expect(typeof text).toBe("string");
      const request = { model: "m", messages: history.slice(prefix.count).concat(next), head: prefix };
      expect(api.sent(request)).toBe(api.whole({ model: "m", messages: [...history, next] }));
      expect(takenJson(prefix)).toBe(text);
    });
  });
}

test("the other API's prefix is refused (the format names the wire API)", () => {
  const original = mixedHistory(10);
  const fromOpenai = openai.exportPrefix!(original)!;
  const fromAnthropic = anthropic.exportPrefix!(original)!;
  expect(fromOpenai.format).not.toBe(fromAnthropic.format);
  expect(anthropic.importPrefix!(resumedCopy(original), fromOpenai)).toBe(false);
  expect(openai.importPrefix!(resumedCopy(original), fromAnthropic)).toBe(false);
  expect(anthropic.takesPrefix!(fromOpenai)).toBe(false);
  expect(openai.takesPrefix!(fromAnthropic)).toBe(false);
});

test("over HTTP, the first request after taking a prefix back is the body JSON.stringify gives", async () => {
  await using fake = await FakeProvider.start();
  fake.route(() => sseReply(openaiSse({ text: "ok" })));
  const provider = openaiAt(fake.url);
  const original = mixedHistory(25);
  const resumed = resumedCopy(original);
  expect(provider.importPrefix!(resumed, provider.exportPrefix!(original)!)).toBe(true);
  const request: ModelRequest = { model: "gpt-4o", messages: [...resumed, next] };
  provider.prepare!(resumed);
  await collect(provider.stream(request));
  expect(fake.requests.at(-1)!.rawBody).toBe(JSON.stringify(buildChatBody(request, `${fake.url}/v1`)));
});

test("a format names the encoding code: other code, or another layout, gives another format", () => {
  const encode = (m: Message) => ({ role: m.role, content: m.content });
  const encodeOtherwise = (m: Message) => ({ role: m.role, content: m.content, extra: 1 });
  expect(prefixFormat("x/1", encode)()).toBe(prefixFormat("x/1", encode)());
  expect(prefixFormat("x/1", encode)()).not.toBe(prefixFormat("x/1", encodeOtherwise)());
  expect(prefixFormat("x/1", encode)()).not.toBe(prefixFormat("x/2", encode)());
});

test("a prefix already sent as a head is taken back as its decoded text, not decoded a second time", () => {
  const prefix = openai.exportPrefix!(mixedHistory(10))!;
  expect(takenJson(prefix)).toBe(prefix.json);
  const text = headText(prefix);
  expect(text).toBe(Buffer.from(prefix.json).toString("utf8"));
  expect(takenJson(prefix)).toBe(text);
  expect(headText(prefix)).toBe(text);
});
