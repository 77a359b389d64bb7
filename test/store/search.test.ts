/**
 * BM25 search over past messages, against both backends: rare terms rank
 * first, tool arguments and results are never returned, snippets show the
 * match.
 */
import { describe, expect, test } from "bun:test";
import { snippet, tokenize } from "../../src/store/search.ts";
import { assistant, backends, msg, toolResult, user } from "./helpers.ts";

test("tokenize: lowercase unicode words without stopwords", () => {
  expect(tokenize("The Café in São Paulo, is it open_now? 42x").map((t) => t.term)).toEqual([
    "café",
    "são",
    "paulo",
    "open_now",
    "42x",
  ]);
  const t = tokenize("Hello World")[1]!;
  expect(t).toEqual({ term: "world", at: 6, length: 5 });
});

test("snippet centres on the matching words and marks cuts", () => {
  const text = `${"filler ".repeat(60)}the ZEBRA crossing ${"more ".repeat(60)}`;
  const s = snippet(text, tokenize(text), new Map([["zebra", 2]]));
  expect(s).toContain("ZEBRA");
  expect(s.startsWith("…")).toBe(true);
  expect(s.endsWith("…")).toBe(true);
  expect(s.length).toBeLessThanOrEqual(200);
});

for (const backend of backends) {
  describe(`search: ${backend.name}`, () => {
    test("a message with the rare term ranks first; tool arguments and results never match", async () => {
      await using f = await backend.make("none");
      const a = await f.store.create({ agent: "crab", createdBy: "cli" });
      const b = await f.store.create({ agent: "scout", createdBy: "tg" });
      for (let i = 0; i < 20; i++)
        await f.store.append(a.id, [
          msg(user(`let us talk about the deploy pipeline number ${i}`)),
          msg(assistant("the deploy went fine")),
        ]);
      await f.store.append(b.id, [
        msg(user("the deploy failed because of the kubernetes ingress")),
        msg(
          assistant("", {
            toolCalls: [
              {
                id: "c1",
                name: "bash",
                rawArguments: '{"cmd":"kubectl get ingress --token=kubernetes-secret"}',
                arguments: { cmd: "kubectl" },
              },
            ],
          }),
        ),
        msg(toolResult("c1", "kubernetes ingress secret token abc123")),
        msg(assistant("fixed the ingress rule")),
      ]);
      const hits = await f.store.search("kubernetes deploy", { limit: 5 });
      expect(hits[0]).toMatchObject({ session: b.id, agent: "scout", role: "user" });
      expect(hits[0]!.snippet).toContain("kubernetes");
      expect(hits.length).toBe(5);
      for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score);

      const secret = await f.store.search("abc123 token kubectl", { limit: 10 });
      expect(secret).toEqual([]);
      const ingress = await f.store.search("ingress", { limit: 10 });
      expect(ingress.map((h) => h.role).sort()).toEqual(["assistant", "user"]);
      expect(ingress.every((h) => h.ts > 0)).toBe(true);
    });

    test("stopword-only and unmatched queries return nothing", async () => {
      await using f = await backend.make("none");
      const a = await f.store.create({ agent: "crab", createdBy: "cli" });
      await f.store.append(a.id, [msg(user("the and of"))]);
      expect(await f.store.search("the and")).toEqual([]);
      expect(await f.store.search("nonexistentword")).toEqual([]);
    });
  });
}
