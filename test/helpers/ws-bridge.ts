/**
 * A test client of the dashboard's WebSocket bridge (src/daemon/http/ws-bridge.ts):
 * one binary message per protobuf frame, replies matched by request id, the
 * way the page does it. Also the HTTP login steps a browser takes, over real
 * HTTP (fetch with redirect: "manual", so the cookie can be read).
 */
import { clientMessage, serverMessage, type Init } from "../../src/protocol/codec.ts";
import type { ClientMessage, ServerMessage } from "../../src/protocol/gen/crabtalk.ts";

export type Request = Omit<Init<ClientMessage>, "requestId">;

/** Follows a login link as a browser would; returns the response (303 with Set-Cookie when it worked). */
export function openLink(url: string): Promise<Response> {
  return fetch(url, { redirect: "manual" });
}

/** "name=value" of the session cookie a login response set. */
export function sessionCookie(res: Response): string {
  const set = res.headers.get("set-cookie") ?? "";
  const pair = set.split(";")[0]!.trim();
  if (!pair.includes("=")) throw new Error(`no session cookie in the response (status ${res.status})`);
  return pair;
}

export class BridgeClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { frames: ServerMessage[]; wake: (() => void) | null; done: boolean }>();
  /** Frames without a request id (connection errors). */
  readonly unsolicited: ServerMessage[] = [];
  private closedWith: { code: number; reason: string } | null = null;
  private readonly closeWaiters: (() => void)[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (e) => {
      const msg = serverMessage.decode(new Uint8Array(e.data as ArrayBuffer));
      const id = Number(msg.requestId ?? 0);
      const slot = this.waiting.get(id);
      if (!slot) {
        this.unsolicited.push(msg);
        return;
      }
      slot.frames.push(msg);
      slot.wake?.();
    });
    ws.addEventListener("close", (e) => {
      this.closedWith = { code: e.code, reason: e.reason };
      for (const slot of this.waiting.values()) {
        slot.done = true;
        slot.wake?.();
      }
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }

  /** Opens the bridge with these headers (Cookie, Origin, Authorization); rejects when the upgrade is refused. */
  static open(url: string, headers: Record<string, string>): Promise<BridgeClient> {
    // Bun's WebSocket takes headers (a browser sets Cookie and Origin itself).
    const ws = new WebSocket(url, { headers } as unknown as string[]);
    return new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(new BridgeClient(ws)), { once: true });
      ws.addEventListener("error", () => reject(new Error(`WebSocket ${url} did not open`)), { once: true });
    });
  }

  /** Sends one request; yields every reply with its id until `until` says the stream ended (or the socket closes). */
  async *stream(request: Request, until: (m: ServerMessage) => boolean): AsyncGenerator<ServerMessage> {
    const id = this.nextId++;
    const slot = { frames: [] as ServerMessage[], wake: null as (() => void) | null, done: false };
    this.waiting.set(id, slot);
    this.ws.send(clientMessage.encode({ ...request, requestId: id } as Init<ClientMessage>));
    try {
      while (true) {
        const next = slot.frames.shift();
        if (next) {
          yield next;
          if (until(next) || next.error) return;
          continue;
        }
        if (slot.done) return;
        await new Promise<void>((resolve) => (slot.wake = resolve));
        slot.wake = null;
      }
    } finally {
      this.waiting.delete(id);
    }
  }

  /** One request, one reply. */
  async request(request: Request): Promise<ServerMessage> {
    for await (const reply of this.stream(request, () => true)) return reply;
    throw new Error(`the bridge closed before answering (${JSON.stringify(this.closedWith)})`);
  }

  /** Sends raw bytes (a malformed frame, a text message) as they are. */
  sendRaw(data: string | Uint8Array): void {
    this.ws.send(data);
  }

  /** Resolves with the close code once the daemon closes the socket. */
  async closed(): Promise<{ code: number; reason: string }> {
    if (!this.closedWith) await new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    return this.closedWith!;
  }

  close(): void {
    this.ws.close();
  }
}
