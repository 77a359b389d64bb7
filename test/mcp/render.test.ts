/**
 * What the model reads from an MCP result (src/mcp/tools.ts renderResult,
 * then dispatch's renderOutput): text joined, structuredContent as JSON
 * unless it only repeats the text, images and resources as type and size,
 * isError kept.
 */
import { expect, test } from "bun:test";
import { renderOutput } from "../../src/agent/dispatch.ts";
import { renderResult } from "../../src/mcp/tools.ts";

test("text blocks are joined; isError is kept", () => {
  const out = renderResult({
    content: [
      { type: "text", text: "one" },
      { type: "text", text: "two" },
    ],
    isError: true,
  });
  expect(out).toEqual({ output: "one\ntwo", isError: true });
});

test("structuredContent is shown as JSON, once: not when the text already is that JSON", () => {
  const value = { sum: 3 };
  expect(renderOutput(renderResult({ content: [{ type: "text", text: "done" }], structuredContent: value }))).toBe(
    'done\n{\n  "sum": 3\n}',
  );
  expect(renderOutput(renderResult({ content: [{ type: "text", text: '{"sum":3}' }], structuredContent: value }))).toBe(
    '{"sum":3}',
  );
});

test("images, audio, embedded resources and links are summarized as type and size", () => {
  const png = Buffer.alloc(100).toString("base64");
  const text = renderOutput(
    renderResult({
      content: [
        { type: "image", data: png, mimeType: "image/png" },
        { type: "resource", resource: { uri: "file:///a.txt", mimeType: "text/plain", text: "hello" } },
        { type: "resource", resource: { uri: "file:///b.bin", blob: Buffer.alloc(10).toString("base64") } },
        { type: "resource_link", uri: "file:///c", name: "c", mimeType: "text/x" },
      ],
    }),
  );
  expect(text.split("\n")).toEqual([
    "[image: image/png, 100 bytes]",
    "[resource: file:///a.txt, text/plain, 5 bytes]",
    "[resource: file:///b.bin, 10 bytes]",
    "[resource: file:///c, text/x]",
  ]);
});
