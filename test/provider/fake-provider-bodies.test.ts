/**
 * The stand-in model server's body handling (test/helpers/fake-provider.ts):
 * by default it keeps and parses every request body (the tests read them);
 * with keepBodies: false (benchmarks with megabyte requests) it still reads
 * each body to its end before answering, and records only its size.
 */
import { describe, expect, test } from "bun:test";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";

/** A JSON body of about `bytes` bytes, with multi-byte characters so bytes and characters differ. */
function bigBody(bytes: number): string {
  return JSON.stringify({ model: "m", messages: [{ role: "user", content: "é🦀".repeat(Math.ceil(bytes / 6)) }] });
}

async function post(url: string, body: string): Promise<string> {
  const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", body });
  return await res.text();
}

describe("FakeProvider request bodies", () => {
  test("kept by default: raw text, parsed JSON and size", async () => {
    await using fake = await FakeProvider.start();
    fake.route(() => sseReply("data: [DONE]\n\n"));
    const body = bigBody(1 << 20);
    expect(await post(fake.url, body)).toBe("data: [DONE]\n\n");
    const [req] = fake.requests;
    expect(req?.rawBody).toBe(body);
    expect(req?.body).toEqual(JSON.parse(body));
    expect(req?.bodyBytes).toBe(Buffer.byteLength(body));
  });

  test("keepBodies: false reads the whole body, answers, and records only its size", async () => {
    await using fake = await FakeProvider.start({ keepBodies: false });
    fake.route((req) => sseReply(`data: ${req.bodyBytes}\n\n`));
    const body = bigBody(2 << 20);
    // The router sees the request after its last byte arrived: the size it answers with is the whole body's.
    expect(await post(fake.url, body)).toBe(`data: ${Buffer.byteLength(body)}\n\n`);
    const [req] = fake.requests;
    expect(req?.rawBody).toBe("");
    expect(req?.body).toBeUndefined();
    expect(req?.bodyBytes).toBe(Buffer.byteLength(body));
  });
});
