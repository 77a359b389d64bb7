/**
 * The tool contract around a call, as the loop runs it: content blocks are
 * rendered into the text the model reads, details go to the trace only,
 * progress becomes events, every result is capped once (head and tail) and
 * passed through the output transform (secret redaction), whatever the tool.
 */
import { describe, expect, test } from "bun:test";
import { capText, renderOutput } from "../../src/agent/dispatch.ts";
import { runAgent } from "../../src/agent/loop.ts";
import type { LoopEvent } from "../../src/agent/types.ts";
import { allowAll, call, reply, scripted, tool } from "./script.ts";

async function run(
  t: ReturnType<typeof tool>,
  extra: { maxOutputChars?: number; transformOutput?: (s: string) => string } = {},
) {
  const s = scripted([reply({ calls: [call("c1", t.name, {})] }), reply({ text: "ok" })]);
  const events: LoopEvent[] = [];
  for await (const ev of runAgent(
    {
      agent: "crab",
      session: 1,
      model: "m",
      history: [{ role: "user", content: "go" }],
      tools: [t],
      stream: s.stream,
      maxIterations: 4,
      authorize: allowAll,
      ...extra,
    },
    new AbortController().signal,
  ))
    events.push(ev);
  const result = events.find((e): e is Extract<LoopEvent, { type: "tool_result" }> => e.type === "tool_result")!;
  const sent = s.requests[1]!.messages.find((m) => m.role === "tool")!.content;
  return { events, result, sent };
}

describe("tool output", () => {
  test("content blocks are rendered for the model; details reach the trace, not the model", async () => {
    const { result, sent } = await run(
      tool("shot", async () => ({
        output: "took a screenshot",
        content: [
          { type: "image", mimeType: "image/png", bytes: 2048 },
          { type: "json", value: { width: 800 } },
          { type: "resource", uri: "file:///tmp/a.txt", mimeType: "text/plain", bytes: 12 },
          { type: "text", text: "done" },
        ],
        details: { pid: 42 },
      })),
    );
    expect(sent).toBe(
      'took a screenshot\n[image: image/png, 2048 bytes]\n{\n  "width": 800\n}\n[resource: file:///tmp/a.txt, text/plain, 12 bytes]\ndone',
    );
    expect(result.output).toBe(sent);
    expect(result.details).toEqual({ pid: 42 });
    expect(sent).not.toContain("42");
  });

  test("progress reported by a running tool becomes events before its result", async () => {
    const { events } = await run(
      tool("build", async (_args, ctx) => {
        ctx.onUpdate?.("compiling 1 of 2");
        ctx.onUpdate?.("compiling 2 of 2");
        return { output: "built" };
      }),
    );
    const types = events.map((e) => e.type);
    expect(events.filter((e) => e.type === "tool_progress").map((e) => (e as { progress: string }).progress)).toEqual([
      "compiling 1 of 2",
      "compiling 2 of 2",
    ]);
    expect(types.indexOf("tool_progress")).toBeLessThan(types.indexOf("tool_result"));
  });

  test("any tool's result is capped once, head and tail kept, and transformed before anyone sees it", async () => {
    const big = `HEAD ${"x".repeat(50_000)} secret-value TAIL`;
    const { result, sent } = await run(
      tool("dump", async () => ({ output: big })),
      {
        maxOutputChars: 1000,
        transformOutput: (t) => t.replaceAll("secret-value", "***"),
      },
    );
    expect(sent.startsWith("HEAD ")).toBe(true);
    expect(sent.endsWith("*** TAIL")).toBe(true);
    expect(sent).toContain("characters cut from the middle of");
    expect(sent.length).toBeLessThan(1300);
    expect(result.output).toBe(sent);
  });

  test("capText and renderOutput leave short, block-less output alone", () => {
    expect(capText("short", 10)).toBe("short");
    expect(renderOutput({ output: "plain" })).toBe("plain");
  });
});
