/**
 * The dashboard's one connection to the daemon: a ClientCore over the
 * WebSocket bridge, reopened with backoff (250 ms doubling to 5 s) whenever
 * it drops — a daemon restart, a network blip. Views never hold the client
 * across a drop: they `follow()` a stream, and the connection re-issues the
 * request on every reconnect, asking the view for it again so it can resume
 * (attach after_seq = last seq it saw). Requests made while down wait for
 * the next connection (or fail after their own timeout). When the daemon is
 * up but the browser is no longer logged in, the page goes to /login.
 */
import { ClientCore, type ClientRequest } from "../../client/core.ts";
import { DaemonError } from "../../client/errors.ts";
import type { ServerMessage } from "../../protocol/gen/crabtalk.ts";
import { clientMessage, serverMessage } from "../../protocol/codec.ts";
import { bridgeUrl, openWsPipe } from "../ws-pipe.ts";

export type ConnState = "connecting" | "up" | "down";

export interface Follow {
  /** The request to (re)issue on each connection; undefined: nothing to follow now. */
  request(): ClientRequest | undefined;
  onReply(reply: ServerMessage): void;
  /** The daemon ended the stream with an error (not a disconnect): it is not re-issued. */
  onError?(err: DaemonError): void;
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;
/** A big session's replay arrives as fast as the daemon reads it; the channel must hold it unread meanwhile. */
const MAX_BUFFERED_REPLIES = 1_000_000;
const WIRE = { encode: clientMessage.encode, decode: serverMessage.decode };

/**
 * Whether the daemon answers but no longer knows this browser (the session
 * cookie expired, was logged out, or its token was revoked): then "/" is a
 * redirect to the login page, and retrying the bridge would never work.
 * A daemon that does not answer is simply down (false: keep retrying).
 */
async function loggedOut(): Promise<boolean> {
  try {
    const res = await fetch("/", { redirect: "manual", cache: "no-store" });
    return res.type === "opaqueredirect" || res.status === 401;
  } catch {
    return false;
  }
}

export class Connection {
  private client: ClientCore | null = null;
  private readonly follows = new Set<Follow>();
  private readonly stateListeners = new Set<(state: ConnState) => void>();
  private waiters: ((client: ClientCore) => void)[] = [];
  private controllers = new Map<Follow, AbortController>();
  state: ConnState = "connecting";
  /** Times the connection came up; 1 after the first. */
  generation = 0;

  constructor(private readonly url = bridgeUrl(location)) {
    void this.loop();
  }

  onState(listener: (state: ConnState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** The connected client, waiting for one if down. */
  ready(): Promise<ClientCore> {
    if (this.client && !this.client.isClosed) return Promise.resolve(this.client);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async request(req: ClientRequest, timeoutMs = 30_000): Promise<ServerMessage> {
    const client = await this.ready();
    return client.request(req, { timeoutMs });
  }

  /** Streams replies of `req` (once, not resumed): a turn sent from the page. */
  async *stream(req: ClientRequest, signal?: AbortSignal): AsyncGenerator<ServerMessage> {
    const client = await this.ready();
    yield* client.stream(req, signal ? { signal } : {});
  }

  /** Follows a stream across reconnects until the returned function is called. */
  follow(f: Follow): () => void {
    this.follows.add(f);
    if (this.client && !this.client.isClosed) this.run(this.client, f);
    return () => {
      this.follows.delete(f);
      this.controllers.get(f)?.abort();
      this.controllers.delete(f);
    };
  }

  private run(client: ClientCore, f: Follow): void {
    const req = f.request();
    if (!req) return;
    const controller = new AbortController();
    this.controllers.set(f, controller);
    void (async () => {
      try {
        for await (const reply of client.stream(req, { signal: controller.signal })) f.onReply(reply);
      } catch (err) {
        if (err instanceof DaemonError && !controller.signal.aborted) f.onError?.(err);
        // Disconnected or aborted: the loop re-issues it on the next connection.
      } finally {
        if (this.controllers.get(f) === controller) this.controllers.delete(f);
      }
    })();
  }

  private setState(state: ConnState): void {
    this.state = state;
    for (const l of this.stateListeners) l(state);
  }

  private async loop(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    for (;;) {
      let client: ClientCore;
      try {
        const pipe = await openWsPipe(this.url);
        client = ClientCore.fromPipe(pipe, WIRE, { maxBufferedReplies: MAX_BUFFERED_REPLIES });
      } catch {
        this.setState("down");
        if (await loggedOut()) {
          location.assign("/login");
          return;
        }
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        continue;
      }
      backoff = MIN_BACKOFF_MS;
      this.client = client;
      this.generation++;
      this.setState("up");
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w(client);
      for (const f of this.follows) this.run(client, f);
      await client.closedPromise;
      this.client = null;
      this.setState("down");
    }
  }
}
