/**
 * web_fetch through the compiled binary's `crabtalk search`, against local
 * servers: readable text from a real-shaped article, the size cap, and the
 * address rule. Loopback is the only address a test can listen on, so the
 * refusals run with allow_private = false against it: a loopback literal,
 * a public-looking name that resolves to 127.0.0.1 (through the `resolve`
 * table, which stands in for DNS exactly where DNS would answer), and a
 * redirect from a host the operator allowed (`allow_hosts`) to one it did
 * not. Each refusal also checks the target server was never asked.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { callTool, fixture, html, LocalServer, startSearch } from "./search-kit.ts";

describe("reading pages (allow_private = true, as a test server needs)", () => {
  test("an article reads as its title, URL and main content, without script, style, navigation or footer", async () => {
    using site = LocalServer.start(() => html(fixture("article.html")));
    await using ext = await startSearch({ allow_private: true });
    const r = await callTool(ext, "web_fetch", { url: `${site.url}/care/shells` });
    expect(r.isError).toBe(false);
    expect(r.text).toBe(
      [
        "Title: Hermit Crab Shells — A Care Guide",
        `URL: ${site.url}/care/shells`,
        "",
        "# Hermit Crab Shells",
        "",
        "By A. Crab · March 2, 2024",
        "",
        "Hermit crabs borrow their shells. As they grow they need larger ones, so keep a few spares in the tank.",
        "",
        "## Choosing a shell",
        "",
        "- Opening slightly wider than the current shell",
        "- Natural shells, never painted",
        "- Boiled and cooled before use",
        "",
        "Prices start at 3 € per shell & go up with size.",
      ].join("\n"),
    );
    expect(site.requests[0]!.headers.get("user-agent")).toContain("crabtalk-search");
  });

  test("max_bytes cuts the text on a character boundary and says how to get more; plain text passes as is", async () => {
    const long = `${"é".repeat(400)}END`;
    using site = LocalServer.start((req) =>
      req.path === "/long.txt"
        ? new Response(long, { headers: { "content-type": "text/plain; charset=utf-8" } })
        : html("x"),
    );
    await using ext = await startSearch({ allow_private: true });
    const r = await callTool(ext, "web_fetch", { url: `${site.url}/long.txt`, max_bytes: 101 });
    expect(r.text).toBe(
      `URL: ${site.url}/long.txt\n\n${"é".repeat(50)}\n\n[cut at 101 bytes of 803; pass a larger max_bytes (up to 1000000) for more]`,
    );
  });

  test("binary content and non-http(s) URLs are refused", async () => {
    using site = LocalServer.start(
      () => new Response(new Uint8Array(64), { headers: { "content-type": "image/png" } }),
    );
    await using ext = await startSearch({ allow_private: true });
    expect(await callTool(ext, "web_fetch", { url: `${site.url}/crab.png` })).toEqual({
      text: `${site.url}/crab.png is image/png (64 bytes); web_fetch returns text and HTML pages only`,
      isError: true,
    });
    for (const url of ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)"]) {
      const r = await callTool(ext, "web_fetch", { url });
      expect(r.isError).toBe(true);
      expect(r.text).toContain("web_fetch fetches http and https URLs only");
    }
  });

  test("redirects are followed by hand to the final page, at most five", async () => {
    using site = LocalServer.start((req) => {
      if (req.path === "/old") return new Response(null, { status: 301, headers: { location: "/new" } });
      if (req.path.startsWith("/loop"))
        return new Response(null, { status: 302, headers: { location: `/loop${req.path.length}` } });
      return html("<title>New</title><p>moved here</p>");
    });
    await using ext = await startSearch({ allow_private: true });
    expect((await callTool(ext, "web_fetch", { url: `${site.url}/old` })).text).toBe(
      `Title: New\nURL: ${site.url}/new\n\nmoved here`,
    );
    const loop = await callTool(ext, "web_fetch", { url: `${site.url}/loop` });
    expect(loop).toEqual({ text: `${site.url}/loop redirected more than 5 times; gave up`, isError: true });
  });
});

describe("the address rule (allow_private = false)", () => {
  test("loopback, private and link-local addresses are refused before any request, literal or resolved", async () => {
    using site = LocalServer.start(() => html("<p>secret</p>"));
    await using ext = await startSearch({
      resolve: { "news.example.com": "127.0.0.1", "meta.example.com": "169.254.169.254" },
    });
    const cases: [string, string][] = [
      [`http://127.0.0.1:${site.port}/`, "127.0.0.1 resolves to 127.0.0.1, a loopback address"],
      [`http://[::ffff:127.0.0.1]:${site.port}/`, "a loopback address"],
      [`http://[::1]:${site.port}/`, "::1 resolves to ::1, a loopback address"],
      [`http://news.example.com:${site.port}/`, "news.example.com resolves to 127.0.0.1, a loopback address"],
      [
        "http://meta.example.com/latest/meta-data/",
        "meta.example.com resolves to 169.254.169.254, a link-local address",
      ],
      ["http://10.1.2.3/", "a private address"],
      ["http://localhost:9/", "localhost resolves to"],
    ];
    for (const [url, why] of cases) {
      const r = await callTool(ext, "web_fetch", { url });
      expect(r.isError).toBe(true);
      expect(r.text).toContain(why);
      expect(r.text).toContain("web_fetch reaches public addresses only");
    }
    expect(site.requests).toEqual([]);
  });

  test("a redirect from an allowed host to a loopback or private one is refused at that hop", async () => {
    using inner = LocalServer.start(() => html("<p>internal secret</p>"));
    using front = LocalServer.start((req) => {
      const to: Record<string, string> = {
        "/to-loopback": `http://127.0.0.1:${inner.port}/secret`,
        "/to-name": `http://intranet.example.com:${inner.port}/secret`,
        "/to-allowed": "/page",
      };
      const location = to[req.path];
      return location
        ? new Response(null, { status: 302, headers: { location } })
        : html("<title>Front</title><p>public page</p>");
    });
    await using ext = await startSearch({
      allow_hosts: ["front.example.com"],
      resolve: { "front.example.com": "127.0.0.1", "intranet.example.com": "127.0.0.1" },
    });
    const base = `http://front.example.com:${front.port}`;
    // The allowed host itself is reached, by its name (Host header) at the pinned address.
    const ok = await callTool(ext, "web_fetch", { url: `${base}/to-allowed` });
    expect(ok).toEqual({ text: `Title: Front\nURL: ${base}/page\n\npublic page`, isError: false });
    expect(front.requests.map((r) => r.headers.get("host"))).toEqual([
      `front.example.com:${front.port}`,
      `front.example.com:${front.port}`,
    ]);

    const toLoopback = await callTool(ext, "web_fetch", { url: `${base}/to-loopback` });
    expect(toLoopback).toEqual({
      text: `refused http://127.0.0.1:${inner.port}/secret: 127.0.0.1 resolves to 127.0.0.1, a loopback address; web_fetch reaches public addresses only (the operator can set allow_private or allow_hosts in [services.search] config)`,
      isError: true,
    });
    const toName = await callTool(ext, "web_fetch", { url: `${base}/to-name` });
    expect(toName.isError).toBe(true);
    expect(toName.text).toContain("intranet.example.com resolves to 127.0.0.1, a loopback address");
    expect(inner.requests).toEqual([]);
  });
});

test("https: the connection goes to the checked address and TLS still verifies the URL's name", async () => {
  const tls = join(import.meta.dir, "..", "fixtures", "search", "tls");
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: Bun.file(join(tls, "cert.pem")), key: Bun.file(join(tls, "key.pem")) },
    fetch: (req) =>
      new Response(`<title>Secure</title><p>host ${req.headers.get("host")}</p>`, {
        headers: { "content-type": "text/html" },
      }),
  });
  try {
    await using ext = await startSearch(
      {
        allow_hosts: ["secure.example.com", "other.example.com"],
        resolve: { "secure.example.com": "127.0.0.1", "other.example.com": "127.0.0.1" },
      },
      { NODE_EXTRA_CA_CERTS: join(tls, "cert.pem") },
    );
    const url = `https://secure.example.com:${server.port}/`;
    expect(await callTool(ext, "web_fetch", { url })).toEqual({
      text: `Title: Secure\nURL: ${url}\n\nhost secure.example.com:${server.port}`,
      isError: false,
    });
    // Same address, a name the certificate does not carry: refused by TLS, not read.
    const other = await callTool(ext, "web_fetch", { url: `https://other.example.com:${server.port}/` });
    expect(other.isError).toBe(true);
    expect(other.text).toContain(`fetching https://other.example.com:${server.port}/ failed`);
  } finally {
    server.stop(true);
  }
});
