/** The dashboard's Markdown renderer: model text can never become markup of its own; the few constructs render. */
import { expect, test } from "bun:test";
import { escapeHtml, renderMarkdown } from "../../src/web/markdown.ts";

test("HTML in model text is escaped, never passed through", () => {
  const out = renderMarkdown('<script>alert(1)</script> <img src=x onerror="alert(2)"> & done');
  expect(out).toBe(
    "<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=&quot;alert(2)&quot;&gt; &amp; done</p>",
  );
  expect(escapeHtml(`'"<>&`)).toBe("&#39;&quot;&lt;&gt;&amp;");
});

test("bold, italic, inline code, and markup inside code stays literal", () => {
  expect(renderMarkdown("a **b** *c* _d_ `<e> **f**`")).toBe(
    "<p>a <strong>b</strong> <em>c</em> <em>d</em> <code>&lt;e&gt; **f**</code></p>",
  );
  expect(renderMarkdown("snake_case_name and 2*3*4")).toBe("<p>snake_case_name and 2*3*4</p>");
});

test("fenced code keeps its text verbatim (escaped) and its language", () => {
  expect(renderMarkdown("before\n```js\nconst x = a < b && **c**;\n```\nafter")).toBe(
    '<p>before</p><pre data-lang="js"><code>const x = a &lt; b &amp;&amp; **c**;</code></pre><p>after</p>',
  );
});

test("links: only http(s) and mailto become anchors, opened without referrer", () => {
  expect(renderMarkdown("[docs](https://example.com/a?b=1&c=2)")).toBe(
    '<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a></p>',
  );
  expect(renderMarkdown("[x](javascript:alert(1))")).toBe("<p>[x](javascript:alert(1))</p>");
  expect(renderMarkdown('[x](https://a.example/"onmouseover=alert(1))')).not.toContain('"onmouseover');
});

test("lists, headings and paragraphs", () => {
  expect(renderMarkdown("# Plan\n\n- one\n- **two**\n\n1. first\n2. second\n\nend\nline")).toBe(
    "<h3>Plan</h3><ul><li>one</li><li><strong>two</strong></li></ul><ol><li>first</li><li>second</li></ol><p>end<br>line</p>",
  );
});
