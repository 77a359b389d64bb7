/**
 * The shared BM25 (src/util/bm25.ts): the formula on hand-computed values,
 * query parsing (stop words, `term*`), and the incremental index that
 * memory recall uses (add replaces, remove forgets, prefix terms count once).
 */
import { expect, test } from "bun:test";
import { Bm25Index, idf, parseQuery, termScore, terms } from "../../src/util/bm25.ts";

test("terms are lowercased words without stop words", () => {
  expect(terms("The Zebra and THE zebra's stripes")).toEqual(["zebra", "zebra", "s", "stripes"]);
});

test("idf and term score match the formula (k1 1.2, b 0.75)", () => {
  expect(idf(10, 1)).toBeCloseTo(Math.log(1 + 9.5 / 1.5), 12);
  expect(idf(10, 10)).toBeGreaterThan(0);
  // tf 2 in a document of average length: idf * 2 * 2.2 / (2 + 1.2)
  expect(termScore(1, 2, 10, 10)).toBeCloseTo((2 * 2.2) / 3.2, 12);
  // Longer than average scores lower.
  expect(termScore(1, 2, 20, 10)).toBeLessThan(termScore(1, 2, 10, 10));
});

test("parseQuery drops stop words, keeps prefixes, dedupes", () => {
  expect(parseQuery("the Zebra zebra zeb* a*")).toEqual([
    { term: "zebra", prefix: false },
    { term: "zeb", prefix: true },
    { term: "a", prefix: true },
  ]);
});

test("a rare term outranks a common one; add replaces, remove forgets", () => {
  const index = new Bm25Index<string>();
  for (let i = 0; i < 5; i++) index.add(`common${i}`, "server server server rack");
  index.add("rare", "one kubernetes server");
  expect(index.search(parseQuery("server kubernetes"), 3)[0]!.key).toBe("rare");
  index.add("rare", "one nomad server");
  expect(index.search(parseQuery("kubernetes"), 3)).toEqual([]);
  expect(index.search(parseQuery("nomad"), 3)[0]!.key).toBe("rare");
  index.remove("rare");
  expect(index.search(parseQuery("nomad"), 3)).toEqual([]);
  expect(index.size).toBe(5);
});

test("a prefix term counts as one term: matching two expansions does not double the weight", () => {
  const index = new Bm25Index<string>();
  index.add("both", "deploy deployment");
  index.add("one", "deploy deploy");
  index.add("other", "unrelated words here");
  const hits = index.search(parseQuery("dep*"), 5);
  expect(hits.map((h) => h.key).sort()).toEqual(["both", "one"]);
  // Same summed tf (2) and length: the same score.
  expect(hits[0]!.score).toBeCloseTo(hits[1]!.score, 12);
});
