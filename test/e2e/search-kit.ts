/**
 * What the search extension's end-to-end tests share: the compiled binary
 * run as `crabtalk search serve --socket PATH` and driven over ext.proto as
 * the daemon drives it, local HTTP servers that record every request they
 * get, and the recorded-shape fixtures of test/fixtures/search/.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "bun";
import type { ExtResponse } from "../../src/protocol/gen/ext.ts";
import { DaemonSide } from "../ext-sdk/daemon-side.ts";
import { binaryPath } from "../helpers/daemon.ts";

export function fixture(name: string): string {
  return readFileSync(join(import.meta.dir, "..", "fixtures", "search", name), "utf8");
}

/** Starts the search extension from the compiled binary and completes the handshake with `config`. */
export async function startSearch(config: object, env: Record<string, string> = {}): Promise<DaemonSide> {
  const ext = await DaemonSide.start([binaryPath(), "search"], [], env);
  const ready = await ext.call({ hello: { version: "test" } });
  if (ready.ready?.service !== "search") throw new Error(`unexpected ExtReady: ${JSON.stringify(ready)}`);
  const configured = await ext.call({ configure: { config: JSON.stringify(config) } });
  if (configured.msg !== "configured") throw new Error(`configure refused: ${JSON.stringify(configured)}`);
  await ext.call({ registerTools: {} });
  return ext;
}

/** A tool call's outcome as the model would read it: text, and whether it is an error. */
export async function callTool(
  ext: DaemonSide,
  name: string,
  args: object,
): Promise<{ text: string; isError: boolean }> {
  const reply: ExtResponse = await ext.call({ toolCall: { name, args: JSON.stringify(args), agent: "crab" } });
  if (reply.msg === "error") return { text: reply.error!.message, isError: true };
  return { text: reply.toolResult!.result, isError: reply.toolResult!.isError };
}

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: string;
}

/** A local HTTP server on 127.0.0.1 that records what it is asked and answers with `route`. */
export class LocalServer implements Disposable {
  readonly requests: Recorded[] = [];
  private constructor(private readonly server: Server<undefined>) {}

  static start(route: (req: Recorded) => Response | Promise<Response>): LocalServer {
    let self: LocalServer | null = null;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (req) => {
        const url = new URL(req.url);
        const recorded = {
          method: req.method,
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body: await req.text(),
        };
        self!.requests.push(recorded);
        return route(recorded);
      },
    });
    self = new LocalServer(server);
    return self;
  }

  get port(): number {
    return this.server.port!;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  [Symbol.dispose](): void {
    this.server.stop(true);
  }
}

export function html(body: string, status = 200): Response {
  return new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8" } });
}

export function json(body: string, status = 200): Response {
  return new Response(body, { status, headers: { "content-type": "application/json" } });
}
