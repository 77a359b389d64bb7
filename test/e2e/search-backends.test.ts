/**
 * web_search against each backend, served locally in the shape of the real
 * service (test/fixtures/search/), through the compiled binary's
 * `crabtalk search`: the request each backend gets (method, path, query,
 * key header), the results the model reads, and the failures it reads
 * instead (no results, bot check, refused format, refused key, bad config).
 */
import { describe, expect, test } from "bun:test";
import { callTool, fixture, html, json, LocalServer, startSearch } from "./search-kit.ts";

describe("DuckDuckGo (HTML endpoint)", () => {
  test("POSTs the query to /html/ and returns organic results in order, ads skipped, redirect links unwrapped", async () => {
    using ddg = LocalServer.start(() => html(fixture("ddg-results.html")));
    await using ext = await startSearch({ backend: "duckduckgo", base_url: `${ddg.url}/html/` });
    const r = await callTool(ext, "web_search", { query: "hermit crab shells" });
    expect(r.isError).toBe(false);
    expect(ddg.requests.length).toBe(1);
    expect(ddg.requests[0]!.method).toBe("POST");
    expect(ddg.requests[0]!.path).toBe("/html/");
    expect(new URLSearchParams(ddg.requests[0]!.body).get("q")).toBe("hermit crab shells");
    expect(r.text).toBe(
      [
        "1. Hermit crab - Wikipedia\n   https://en.wikipedia.org/wiki/Hermit_crab\n   Hermit crabs are anomuran decapod crustaceans that have adapted to occupy empty scavenged mollusc shells to protect their fragile exoskeletons.",
        '2. Choosing Shells for Your Hermit Crab & When to Change Them\n   https://www.example.org/care/shells?size=large&lang=en\n   Offer several shells slightly larger than the current one; a crab that "shell hops" is usually fine.',
        "3. Hermit Crab FAQ\n   https://crabs.example.net/faq\n   Why do hermit crabs change shells? Growth, mostly.",
      ].join("\n\n"),
    );
    expect(r.text).not.toContain("Buy Crab Shells");
    const two = await callTool(ext, "web_search", { query: "hermit crab shells", max_results: 2 });
    expect(two.text.split("\n\n").length).toBe(2);
  });

  test("no results and a bot check each read as what they are", async () => {
    let page = fixture("ddg-no-results.html");
    let status = 200;
    using ddg = LocalServer.start(() => html(page, status));
    await using ext = await startSearch({ base_url: `${ddg.url}/html/` });
    expect(await callTool(ext, "web_search", { query: "qzxqzxqzx crab" })).toEqual({
      text: 'No results for "qzxqzxqzx crab".',
      isError: false,
    });
    page =
      "<html><body><form id='challenge-form'>Unfortunately, bots use DuckDuckGo too. anomaly-modal</form></body></html>";
    status = 202;
    const bot = await callTool(ext, "web_search", { query: "crab" });
    expect(bot.isError).toBe(true);
    expect(bot.text).toContain("DuckDuckGo answered with a bot check");
  });
});

describe("SearXNG (JSON API)", () => {
  test("GETs /search?format=json under the base URL and maps results; $SEARXNG_URL is the default address", async () => {
    using sx = LocalServer.start((req) =>
      req.path === "/sx/search" && req.query.get("format") === "json"
        ? json(fixture("searxng-results.json"))
        : json("{}", 404),
    );
    await using ext = await startSearch({ backend: "searxng" }, { SEARXNG_URL: `${sx.url}/sx` });
    const r = await callTool(ext, "web_search", { query: "hermit crab shells", max_results: 2 });
    expect(sx.requests[0]!.method).toBe("GET");
    expect(sx.requests[0]!.query.get("q")).toBe("hermit crab shells");
    expect(r).toEqual({
      text: "1. Hermit crab - Wikipedia\n   https://en.wikipedia.org/wiki/Hermit_crab\n   Hermit crabs are anomuran decapod crustaceans that have adapted to occupy empty scavenged mollusc shells.\n\n2. Choosing Shells for Your Hermit Crab\n   https://www.example.org/care/shells\n   Offer several shells slightly larger than the current one & keep them clean.",
      isError: false,
    });
  });

  test("an instance that refuses format=json says how to allow it", async () => {
    using sx = LocalServer.start(() => html("<h1>403 Forbidden</h1>", 403));
    await using ext = await startSearch({ backend: "searxng", base_url: sx.url });
    const r = await callTool(ext, "web_search", { query: "crab" });
    expect(r.isError).toBe(true);
    expect(r.text).toBe(
      "SearXNG answered 403: the instance refuses format=json; add json to search.formats in its settings.yml",
    );
  });
});

describe("Brave Search API", () => {
  test("sends the key as X-Subscription-Token with count, and strips the highlight markup", async () => {
    using brave = LocalServer.start((req) =>
      req.headers.get("x-subscription-token") === "test-key"
        ? json(fixture("brave-results.json"))
        : json('{"type":"ErrorResponse"}', 401),
    );
    await using ext = await startSearch({
      backend: "brave",
      base_url: `${brave.url}/res/v1/web/search`,
      api_key: "test-key",
    });
    const r = await callTool(ext, "web_search", { query: "hermit crab shells", max_results: 3 });
    const req = brave.requests[0]!;
    expect([req.method, req.path, req.query.get("q"), req.query.get("count")]).toEqual([
      "GET",
      "/res/v1/web/search",
      "hermit crab shells",
      "3",
    ]);
    expect(r.text).toBe(
      "1. Hermit crab - Wikipedia\n   https://en.wikipedia.org/wiki/Hermit_crab\n   Hermit crabs are anomuran decapod crustaceans that have adapted to occupy empty scavenged mollusc shells.\n\n2. Choosing Shells for Your Hermit Crab\n   https://www.example.org/care/shells\n   Offer several shells slightly larger than the current one.",
    );
  });

  test("a refused key reads as one", async () => {
    using brave = LocalServer.start(() =>
      json('{"type":"ErrorResponse","error":{"code":"SUBSCRIPTION_TOKEN_INVALID"}}', 401),
    );
    await using ext = await startSearch({ backend: "brave", base_url: brave.url, api_key: "wrong" });
    const r = await callTool(ext, "web_search", { query: "crab" });
    expect(r).toEqual({
      text: "Brave Search answered 401: the API key was refused; check api_key in [services.search] config",
      isError: true,
    });
  });
});

test("a bad config is refused at ExtConfigure with the key and the fix, and the previous one stays", async () => {
  using ddg = LocalServer.start(() => html(fixture("ddg-no-results.html")));
  await using ext = await startSearch({ base_url: `${ddg.url}/html/` });
  const refusals = await Promise.all(
    [{ backend: "bing" }, { backend: "brave" }, { backend: "searxng" }, { max_results: 500 }, { colour: "red" }].map(
      (c) => ext.call({ configure: { config: JSON.stringify(c) } }),
    ),
  );
  expect(refusals.map((r) => r.error?.message)).toEqual([
    '[services.search] config.backend: "bing" is not a backend; use "duckduckgo", "searxng" or "brave"',
    "[services.search] config.api_key: Brave's API needs a subscription token; set api_key = \"${BRAVE_API_KEY}\" or BRAVE_API_KEY in the service's env",
    '[services.search] config.base_url: SearXNG needs its address; set base_url = "http://HOST:PORT" (or SEARXNG_URL in the service\'s env)',
    "[services.search] config.max_results: 500 is out of range; give a whole number from 1 to 20",
    "[services.search] config.colour: unknown key; use one of backend, base_url, api_key, max_results, timeout_ms, fetch_max_bytes, allow_private, allow_hosts, resolve, user_agent",
  ]);
  expect((await callTool(ext, "web_search", { query: "still duckduckgo" })).text).toBe(
    'No results for "still duckduckgo".',
  );
});
