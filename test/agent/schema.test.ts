/** The tool-argument validator: each keyword of the supported subset, with exact error paths. */
import { describe, expect, test } from "bun:test";
import { formatErrors, validate } from "../../src/agent/schema.ts";

describe("validate", () => {
  const schema = {
    type: "object",
    properties: {
      path: { type: "string", minLength: 1, maxLength: 5 },
      count: { type: "integer", minimum: 1, maximum: 10 },
      mode: { enum: ["a", "b"] },
      kind: { const: "file" },
      tags: { type: "array", items: { type: "string" } },
      nested: { type: "object", properties: { deep: { type: ["number", "null"] } }, required: ["deep"] },
      maybe: { type: "string", nullable: true },
    },
    required: ["path"],
    additionalProperties: false,
  };

  test("a valid object has no errors", () => {
    expect(
      validate(schema, {
        path: "a.ts",
        count: 3,
        mode: "a",
        kind: "file",
        tags: ["x"],
        nested: { deep: null },
        maybe: null,
      }),
    ).toEqual([]);
  });

  test("each keyword reports the field it concerns", () => {
    const errors = validate(schema, {
      count: 2.5,
      mode: "c",
      kind: "dir",
      tags: ["x", 1],
      nested: {},
      extra: true,
      maybe: 3,
    });
    const paths = errors.map((e) => e.path).sort();
    expect(paths).toEqual(["count", "extra", "kind", "maybe", "mode", "nested.deep", "path", "tags[1]"]);
    expect(formatErrors(errors)).toContain("path: required property is missing");
    expect(formatErrors(errors)).toContain("count: expected integer, got number 2.5");
    expect(formatErrors(errors)).toContain("extra: unknown property; allowed: path, count");
  });

  test("bounds on numbers and string lengths", () => {
    expect(validate(schema, { path: "", count: 0 }).map((e) => e.message)).toEqual([
      "must be at least 1 characters long",
      "must be >= 1, got 0",
    ]);
    expect(validate(schema, { path: "toolong", count: 11 }).map((e) => e.message)).toEqual([
      "must be at most 5 characters long",
      "must be <= 10, got 11",
    ]);
  });

  test("anyOf and oneOf", () => {
    const s = { anyOf: [{ type: "string" }, { type: "integer" }] };
    expect(validate(s, "x")).toEqual([]);
    expect(validate(s, 3)).toEqual([]);
    expect(validate(s, true)[0]!.message).toStartWith("does not match any allowed shape");
    const o = { oneOf: [{ type: "number" }, { type: "integer" }] };
    expect(validate(o, 1.5)).toEqual([]);
    expect(validate(o, 2)[0]!.message).toBe("matches 2 shapes but must match exactly one");
  });

  test("additionalProperties as a schema and the root type", () => {
    expect(validate({ type: "object", additionalProperties: { type: "string" } }, { a: 1 })).toEqual([
      { path: "a", message: "expected string, got integer 1" },
    ]);
    expect(validate({ type: "object" }, [])[0]!.message).toBe("expected object, got array");
  });
});
