/**
 * The terminal sanitizer (cli/render/sanitize.ts) and the one-line helpers
 * built on the same rule: every control character in untrusted text is
 * shown, never obeyed; newline and tab stay.
 */
import { describe, expect, test } from "bun:test";
import { visibleControls, visibleDeep } from "../../src/cli/render/sanitize.ts";
import { oneLine } from "../../src/cli/render/style.ts";
import { oneLine as cellLine } from "../../src/cli/sessions.ts";

describe("visibleControls", () => {
  test("OSC 52, OSC 0, CSI 2J, BEL, DEL and C1 become caret text; newline and tab stay", () => {
    expect(visibleControls("a\x1b]52;c;aGk=\x07b")).toBe("a^[]52;c;aGk=^Gb");
    expect(visibleControls("\x1b]0;title\x1b\\")).toBe("^[]0;title^[\\");
    expect(visibleControls("\x1b[2J\x1b[H")).toBe("^[[2J^[[H");
    expect(visibleControls("x\u009b31my\u009d0;t\u009c")).toBe("x^[[31my^[]0;t^[\\");
    expect(visibleControls("del\x7f nul\x00 bs\x08")).toBe("del^? nul^@ bs^H");
    expect(visibleControls("line\n\tindented")).toBe("line\n\tindented");
  });

  test("CRLF becomes LF, a CR ending a piece is dropped, any other CR is shown", () => {
    expect(visibleControls("a\r\nb")).toBe("a\nb");
    expect(visibleControls("chunk ends\r")).toBe("chunk ends");
    expect(visibleControls("progress 10%\rfake prompt")).toBe("progress 10%^Mfake prompt");
  });

  test("text without controls is returned unchanged, Unicode included", () => {
    const s = "café ✓ 日本語 → ok";
    expect(visibleControls(s)).toBe(s);
  });
});

describe("visibleDeep", () => {
  test("every string of a nested value, arrays included; numbers, booleans and bytes untouched", () => {
    const bytes = new Uint8Array([27]);
    const ev = {
      seq: 3,
      event: "toolStart",
      toolStart: { calls: [{ id: "c\x1b", name: "bash\x07", arguments: '{"command":"\\u001b[2J"}' }] },
      ok: true,
      bytes,
    };
    const out = visibleDeep(ev);
    expect(out.toolStart.calls[0]).toEqual({ id: "c^[", name: "bash^G", arguments: '{"command":"\\u001b[2J"}' });
    expect(out.seq).toBe(3);
    expect(out.ok).toBe(true);
    expect(out.bytes).toBe(bytes);
    expect(ev.toolStart.calls[0]!.name).toBe("bash\x07"); // a copy: the input is not changed
  });
});

describe("one-line helpers", () => {
  test("render oneLine turns every control, C1 included, into a space", () => {
    expect(oneLine("a\x1b]0;t\x07b\u009b2Jc")).toBe("a ]0;t b 2Jc");
  });

  test("table cells and snippets show controls instead of passing them", () => {
    expect(cellLine("title \x1b]0;pwned\x07 here", 40)).toBe("title ^[]0;pwned^G here");
  });
});
