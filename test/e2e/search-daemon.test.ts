/**
 * The search extension as users run it: the compiled daemon spawns
 * `crabtalk search` for `[services.search] command = <the binary>
 * args = ["search"]`, and a real turn calls web_search and web_fetch
 * against local servers (SearXNG-shaped results, an article page); the
 * model reads their results, and a loopback URL is refused to it while
 * allow_private is off for that service.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { binaryPath, type DaemonHandle, startDaemon, tempHome } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { streamTurn, textOf, toolResultsOf, turnConfig } from "../helpers/turn-kit.ts";
import { waitState } from "./ext-kit.ts";
import { fixture, html, json, LocalServer } from "./search-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let searx: LocalServer;
let site: LocalServer;

const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

beforeAll(async () => {
  fake = await FakeProvider.start();
  searx = LocalServer.start((req) =>
    req.path === "/search" ? json(fixture("searxng-results.json")) : json("{}", 404),
  );
  site = LocalServer.start(() => html(fixture("article.html")));
  const services = `
[services.search]
command = ${JSON.stringify(binaryPath())}
args = ["search"]
config = { backend = "searxng", base_url = "${searx.url}", allow_hosts = ["crabs.example.com"], resolve = { "crabs.example.com" = "127.0.0.1" } }
`;
  d = await startDaemon({ home: tempHome(), config: turnConfig(fake.url, 'tools = ["search/*"]') + services });
  const c = await d.client();
  const s = await waitState(c, "search", "running");
  c.close();
  expect(s.tools.sort()).toEqual(["web_fetch", "web_search"]);
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
  searx[Symbol.dispose]();
  site[Symbol.dispose]();
});

test("a turn searches, then reads a result page, through the daemon-spawned `crabtalk search`", async () => {
  const page = `http://crabs.example.com:${site.port}/care/shells`;
  fake.enqueue(
    reply({ toolCalls: [{ id: "call_s", name: "web_search", args: { query: "hermit crab shells", max_results: 1 } }] }),
    reply({ toolCalls: [{ id: "call_f", name: "web_fetch", args: { url: page, max_bytes: 200 } }] }),
    reply({ text: "Shells borrowed." }),
  );
  const before = fake.requests.length;
  const c = await d.client();
  const events = await streamTurn(c, { content: "find out about hermit crab shells" });
  c.close();
  expect(textOf(events)).toBe("Shells borrowed.");
  const [, afterSearch, afterFetch] = fake.requests.slice(before);
  expect(toolResultsOf(afterSearch!)).toEqual([
    {
      id: "call_s",
      text: "1. Hermit crab - Wikipedia\n   https://en.wikipedia.org/wiki/Hermit_crab\n   Hermit crabs are anomuran decapod crustaceans that have adapted to occupy empty scavenged mollusc shells.",
    },
  ]);
  expect(searx.requests[0]!.query.get("format")).toBe("json");
  const fetched = toolResultsOf(afterFetch!).at(-1)!; // the request carries the whole turn so far
  expect(fetched.id).toBe("call_f");
  expect(fetched.text).toStartWith(`Title: Hermit Crab Shells — A Care Guide\nURL: ${page}\n\n# Hermit Crab Shells`);
  expect(fetched.text).toContain("[cut at 200 bytes of");
});

test("the model is refused a loopback URL, as a tool error, and the site is never asked", async () => {
  const asked = site.requests.length;
  fake.enqueue(
    reply({ toolCalls: [{ id: "call_l", name: "web_fetch", args: { url: `http://127.0.0.1:${site.port}/admin` } }] }),
    reply({ text: "refused" }),
  );
  const before = fake.requests.length;
  const c = await d.client();
  await streamTurn(c, { content: "read the admin page" });
  c.close();
  const [result] = toolResultsOf(fake.requests[before + 1]!);
  expect(result!.text).toContain(
    `refused http://127.0.0.1:${site.port}/admin: 127.0.0.1 resolves to 127.0.0.1, a loopback address`,
  );
  expect(site.requests.length).toBe(asked);
});
