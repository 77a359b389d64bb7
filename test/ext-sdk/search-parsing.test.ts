/**
 * The search extension's pure parts, in process: which addresses count as
 * non-public (every range web_fetch refuses, and public ones it must not),
 * HTML to text and the DuckDuckGo parser on hostile markup, which must stay
 * linear (a page is remote: thousands of unclosed tags must cost
 * milliseconds, not minutes), and the config defaults.
 */
import { describe, expect, test } from "bun:test";
import { privateRange } from "../../src/ext/search/address-policy.ts";
import { parseSearchConfig } from "../../src/ext/search/config.ts";
import { parseDuckDuckGo } from "../../src/ext/search/ddg-parse.ts";
import { htmlToText } from "../../src/ext/search/html-text.ts";

describe("privateRange", () => {
  test("refused ranges, IPv4 and IPv6, including IPv4 carried inside IPv6", () => {
    const cases: [string, string][] = [
      ["127.0.0.1", "loopback"],
      ["127.255.0.9", "loopback"],
      ["10.0.0.1", "private"],
      ["172.16.0.1", "private"],
      ["172.31.255.255", "private"],
      ["192.168.1.1", "private"],
      ["169.254.169.254", "link-local"],
      ["100.64.0.1", "carrier-grade NAT"],
      ["0.0.0.0", "unspecified"],
      ["224.0.0.1", "multicast"],
      ["255.255.255.255", "reserved"],
      ["::1", "loopback"],
      ["::", "unspecified"],
      ["fe80::1", "link-local"],
      ["fd00::1", "unique local"],
      ["fc00::1", "unique local"],
      ["ff02::1", "multicast"],
      ["::ffff:127.0.0.1", "loopback"],
      ["::ffff:7f00:1", "loopback"],
      ["::ffff:10.1.2.3", "private"],
      ["64:ff9b::a9fe:a9fe", "link-local"],
      ["0:0:0:0:0:0:0:1", "loopback"],
    ];
    expect(cases.map(([ip]) => [ip, privateRange(ip)])).toEqual(cases);
  });

  test("public addresses pass", () => {
    for (const ip of [
      "8.8.8.8",
      "1.1.1.1",
      "172.32.0.1",
      "172.15.255.255",
      "100.128.0.1",
      "2606:4700::1111",
      "::ffff:8.8.8.8",
    ])
      expect([ip, privateRange(ip)]).toEqual([ip, null]);
  });
});

describe("HTML to text", () => {
  test("entities, headings, lists, tables, comments and a lone < read right", () => {
    const { title, text } = htmlToText(
      "<html><head><title>T &amp; U</title></head><body><h2>Head</h2><p>a &lt; b, 3 < 4 &#x1F980; &unknown;</p>" +
        "<!-- gone --><table><tr><td>x</td><td>y</td></tr></table><ol><li>one<li>two</ol></body></html>",
    );
    expect(title).toBe("T & U");
    expect(text).toBe("## Head\n\na < b, 3 < 4 🦀 &unknown;\n\nx y\n\n- one\n- two");
  });

  test("hostile markup stays linear: 100,000 unclosed tags of each kind in under 5 s each (quadratic: minutes)", () => {
    for (const page of [
      "<button>x ".repeat(100_000),
      "<nav>x ".repeat(100_000),
      "<a".repeat(1_000_000),
      `<article>${"<p>t</p>".repeat(100_000)}`,
      "<script>x ".repeat(100_000),
    ]) {
      const t0 = performance.now();
      htmlToText(page);
      expect(performance.now() - t0).toBeLessThan(5000);
    }
  });
});

describe("DuckDuckGo parser", () => {
  test("skips ads, unwraps /l/?uddg= links, keeps direct links", () => {
    const page =
      '<div class="result result--ad"><a class="result__a" href="https://duckduckgo.com/y.js?ad=1">Ad</a></div>' +
      '<div class="result web-result"><a class="result__a" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fa.example%2F%3Fx%3D1%26y%3D2&amp;rut=1">A <b>one</b></a>' +
      '<a class="result__snippet" href="#">snip <b>pet</b></a></div>' +
      '<div class="result"><a class="result__a" href="https://b.example/">B</a></div>';
    expect(parseDuckDuckGo(page, "https://html.duckduckgo.com/html/")).toEqual([
      { title: "A one", url: "https://a.example/?x=1&y=2", snippet: "snip pet" },
      { title: "B", url: "https://b.example/", snippet: "" },
    ]);
  });

  test("hostile result pages stay linear", () => {
    for (const page of [
      '<div class="result"><a class="result__a" href="x">t'.repeat(50_000),
      "<a".repeat(1_000_000),
      `<a class="result__a" href="x">${"<".repeat(500_000)}`,
    ]) {
      const t0 = performance.now();
      parseDuckDuckGo(page, "http://x/");
      expect(performance.now() - t0).toBeLessThan(5000);
    }
  });
});

test("config defaults: DuckDuckGo, 5 results, public addresses only", () => {
  expect(parseSearchConfig({}, {})).toMatchObject({
    backend: "duckduckgo",
    baseUrl: "https://html.duckduckgo.com/html/",
    maxResults: 5,
    allowPrivate: false,
    allowHosts: [],
  });
  expect(parseSearchConfig({ backend: "brave" }, { BRAVE_API_KEY: "k" }).apiKey).toBe("k");
});
