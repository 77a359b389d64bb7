/**
 * A real local HTTP server that plays a model provider: it records every
 * request and answers from a script. Provider tests use it to replay the
 * recorded streams byte for byte; daemon end-to-end tests use it as the
 * model behind a scripted agent.
 *
 * Usage:
 *   await using fake = await FakeProvider.start();
 *   fake.enqueue(fixtureReply("openai/chat-text-gpt-4o-2024-09.sse"));
 *   fake.route((req) => sseReply(openaiSse({ text: "hi" })));  // when the queue is empty
 *   ... point a provider at fake.url (e.g. `${fake.url}/v1`) ...
 *   fake.requests[0].body  // the parsed JSON the client sent
 *
 * Replies (see `Reply`): a fixture file or any body, optionally cut into
 * chunks of given sizes with a delay between them; a status with a JSON
 * error body and headers (Retry-After...); headers then silence; no answer
 * at all; part of a body then a broken connection; a body produced by a
 * function of the request. Any reply can wait for a `Gate` the test
 * releases, before answering or after a given number of body bytes.
 *
 * `FakeProvider.start({ keepBodies: false })` is for benchmarks whose
 * requests carry megabytes: each body is still read to its end (as any
 * real server must read it) but is neither decoded, parsed nor kept, so
 * the stand-in's own work does not count against the client it measures;
 * its recorded requests then carry the body's size only.
 *
 * Built on node:http (which Bun implements) rather than Bun.serve: Bun.serve
 * does not send response headers before the first body byte, so "headers
 * then silence" (the idle-timeout case) cannot be played with it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";

export const FIXTURES_DIR = join(import.meta.dir, "..", "fixtures", "providers");

export interface RecordedRequest {
  index: number;
  method: string;
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** "" when the provider was started with keepBodies: false. */
  rawBody: string;
  /** The body parsed as JSON; undefined when it is not JSON (or not kept). */
  body: unknown;
  /** Bytes of the body as received. */
  bodyBytes: number;
}

export interface FakeProviderOptions {
  /** Decode, parse and keep every request body (default true); false only reads each to its end. */
  keepBodies?: boolean;
}

interface Streaming {
  status?: number;
  headers?: Record<string, string>;
  /** Write sizes in bytes, cycled (e.g. [1] = byte by byte). Default: one write. */
  chunkSizes?: number[];
  /** Pause before every write after the first. */
  chunkDelayMs?: number;
  /** Wait for this before answering, or, with gateAfterBytes, after that many body bytes. */
  gate?: Promise<unknown>;
  gateAfterBytes?: number;
}

export type Reply =
  | ({ kind: "fixture"; file: string } & Streaming)
  | ({ kind: "body"; body: string | Uint8Array; contentType?: string } & Streaming)
  | ({
      kind: "generate";
      chunks: (req: RecordedRequest) => AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;
    } & Streaming)
  /** A JSON body (objects are serialized; strings are sent as is). */
  | { kind: "error"; status: number; body: unknown; headers?: Record<string, string>; gate?: Promise<unknown> }
  /** Status and headers, then nothing until the client gives up. */
  | { kind: "hang"; status?: number; headers?: Record<string, string> }
  /** Never answers: not even headers. */
  | { kind: "silent" }
  /** Sends `afterBytes` of the body (default half), then destroys the socket. */
  | { kind: "reset"; body: string | Uint8Array; afterBytes?: number; headers?: Record<string, string> };

export type Router = (req: RecordedRequest) => Reply | undefined;

export interface Gate {
  promise: Promise<void>;
  release(): void;
}

export function gate(): Gate {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

export function fixtureReply(file: string, options: Streaming = {}): Reply {
  return { kind: "fixture", file, ...options };
}

export function sseReply(body: string, options: Streaming = {}): Reply {
  return { kind: "body", body, contentType: "text/event-stream", ...options };
}

export function errorReply(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { kind: "error", status, body, headers } : { kind: "error", status, body };
}

export function readFixture(file: string): Uint8Array {
  return readFileSync(isAbsolute(file) ? file : join(FIXTURES_DIR, file));
}

export class FakeProvider implements AsyncDisposable {
  readonly requests: RecordedRequest[] = [];
  /** Responses the client dropped before they were complete (abort, timeout). */
  clientClosed = 0;
  private readonly queue: Reply[] = [];
  private router: Router | undefined;
  private readonly requestWaiters: (() => void)[] = [];
  private readonly closeWaiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly keepBodies: boolean,
  ) {}

  static async start(options: FakeProviderOptions = {}): Promise<FakeProvider> {
    let self: FakeProvider | undefined;
    const server = createServer((req, res) => void self?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    self = new FakeProvider(server, `http://127.0.0.1:${port}`, options.keepBodies ?? true);
    return self;
  }

  /** Replies used in order, one per request, before the router is asked. */
  enqueue(...replies: Reply[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Chooses replies by request (model, last message...) once the queue is empty. */
  route(router: Router): this {
    this.router = router;
    return this;
  }

  /** Resolves once `count` requests in total have arrived. */
  async waitForRequests(count: number): Promise<void> {
    while (this.requests.length < count) await new Promise<void>((resolve) => this.requestWaiters.push(resolve));
  }

  /** Resolves when the client next drops a response before its end. */
  waitForClientClose(): Promise<void> {
    return new Promise<void>((resolve) => this.closeWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let bodyBytes = 0;
    for await (const chunk of req) {
      bodyBytes += (chunk as Buffer).length;
      if (this.keepBodies) chunks.push(chunk as Buffer);
    }
    const rawBody = this.keepBodies ? Buffer.concat(chunks).toString("utf8") : "";
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    const recorded: RecordedRequest = {
      index: this.requests.length,
      method: req.method ?? "",
      path: req.url ?? "",
      headers,
      rawBody,
      body: this.keepBodies ? parseJson(rawBody) : undefined,
      bodyBytes,
    };
    this.requests.push(recorded);
    for (const wake of this.requestWaiters.splice(0)) wake();

    let finished = false;
    res.on("finish", () => (finished = true));
    res.on("close", () => {
      if (finished) return;
      this.clientClosed++;
      for (const wake of this.closeWaiters.splice(0)) wake();
    });

    const reply =
      this.queue.shift() ??
      this.router?.(recorded) ??
      errorReply(500, { error: { message: "fake provider: no scripted reply for this request" } });
    await this.play(reply, recorded, res);
  }

  private async play(reply: Reply, req: RecordedRequest, res: ServerResponse): Promise<void> {
    switch (reply.kind) {
      case "silent":
        return;
      case "hang":
        res.writeHead(reply.status ?? 200, { "content-type": "text/event-stream", ...reply.headers });
        res.flushHeaders();
        return;
      case "error": {
        if (reply.gate) await reply.gate;
        const body = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
        res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
        res.end(body);
        return;
      }
      case "reset": {
        const bytes = toBytes(reply.body);
        res.writeHead(200, { "content-type": "text/event-stream", ...reply.headers });
        res.write(bytes.subarray(0, reply.afterBytes ?? Math.floor(bytes.length / 2)));
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      case "fixture": {
        const type = reply.file.endsWith(".json") ? "application/json" : "text/event-stream";
        return this.stream(res, reply, type, [readFixture(reply.file)]);
      }
      case "body":
        return this.stream(res, reply, reply.contentType ?? "text/event-stream", [toBytes(reply.body)]);
      case "generate":
        return this.stream(res, reply, "text/event-stream", reply.chunks(req));
    }
  }

  private async stream(
    res: ServerResponse,
    opts: Streaming,
    contentType: string,
    source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  ): Promise<void> {
    if (opts.gate && opts.gateAfterBytes === undefined) await opts.gate;
    res.writeHead(opts.status ?? 200, { "content-type": contentType, ...opts.headers });
    res.flushHeaders();
    const sizes = opts.chunkSizes && opts.chunkSizes.length > 0 ? opts.chunkSizes : undefined;
    let sent = 0;
    let writes = 0;
    let gated = opts.gateAfterBytes === undefined;
    for await (const piece of source) {
      let bytes = toBytes(piece);
      while (bytes.length > 0) {
        if (res.destroyed) return;
        let size = sizes ? sizes[writes % sizes.length]! : bytes.length;
        if (!gated) size = Math.min(size, opts.gateAfterBytes! - sent);
        if (!gated && size === 0) {
          await opts.gate;
          gated = true;
          continue;
        }
        if (writes > 0 && opts.chunkDelayMs) await sleep(opts.chunkDelayMs);
        if (res.destroyed) return;
        res.write(bytes.subarray(0, size));
        bytes = bytes.subarray(size);
        sent += size;
        writes++;
      }
    }
    if (!gated) await opts.gate;
    res.end();
  }
}

function toBytes(piece: string | Uint8Array): Uint8Array {
  return typeof piece === "string" ? new TextEncoder().encode(piece) : piece;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
