/**
 * Unit tests of the secret redactor (util/redact.ts): which configured
 * values count as secrets and how tool output is scrubbed of them.
 */
import { describe, expect, test } from "bun:test";
import { providerSecrets, redact, secretRedactor } from "../../src/util/redact.ts";

describe("providerSecrets", () => {
  test("api keys and header values, deduplicated, too-short values left out, longest first", () => {
    const secrets = providerSecrets([
      { apiKey: "key-one-123", headers: { "X-Token": "tok-abcdefghijkl", "X-Short": "abc" } },
      { apiKey: "key-one-123", headers: {} },
      { headers: { Authorization: "Bearer xyz-0987654321" } },
    ]);
    expect(secrets).toEqual(["Bearer xyz-0987654321", "tok-abcdefghijkl", "key-one-123"]);
  });
});

describe("secretRedactor", () => {
  test("replaces every occurrence of every secret and known key shapes; other text is untouched", () => {
    const scrub = secretRedactor(["plain-secret-1", "second-secret"]);
    expect(scrub("a plain-secret-1 b plain-secret-1 c second-secret")).toBe("a *** b *** c ***");
    expect(scrub("OPENAI_API_KEY=sk-proj-abcdefgh1234")).toBe("OPENAI_API_KEY=***");
    expect(scrub("nothing to hide here\n")).toBe("nothing to hide here\n");
  });

  test("a secret containing another is replaced whole, whatever order it was configured in", () => {
    const scrub = secretRedactor(["abcd1234", "xx-abcd1234-yy"]);
    expect(scrub("[xx-abcd1234-yy]")).toBe("[***]");
  });

  test("matches the log redaction for the same secrets", () => {
    const text = "token hdr-value-9999 and Bearer abcdefghijkl";
    expect(secretRedactor(["hdr-value-9999"])(text)).toBe(redact(text, ["hdr-value-9999"]));
  });
});
