/**
 * RequestChannel: requests and their replies over one FramedPipe, matched
 * by request id, for any protobuf protocol (the client SDK over
 * crabtalk.proto; the extension host over ext.proto next). It knows
 * messages only through a ChannelCodec.
 *
 * What it guarantees:
 * - ids: numbers from 1 up, unique on this channel (0 means "no id").
 * - request() settles exactly once: first reply, error reply, timeout,
 *   abort, or close. stream() yields replies until `isLast` says so.
 * - cancellation: abort, timeout, or leaving a stream early sends the
 *   codec's cancel message for that id (if it has one), so the peer stops.
 * - bounds: at most `maxInFlight` requests (a clear ChannelFull past that),
 *   at most `maxBufferedReplies` unread replies per stream (the stream fails
 *   with ChannelOverflow and is cancelled: a peer cannot grow our memory).
 * - replies for ids that are not pending are dropped and counted.
 * - when the pipe closes, every pending request fails with the reason.
 */
import type { FramedPipe } from "./push-pipe.ts";
import { ConnectionClosed } from "./framing.ts";

/** How the channel reads and writes one protocol's messages. */
export interface ChannelCodec<Req, Rep> {
  encode(message: Req): Uint8Array;
  /** Throws on bytes that are not a message (such frames are dropped and counted). */
  decode(frame: Uint8Array): Rep;
  /** The request id of a reply; 0 or undefined for none. */
  idOf(reply: Rep): number | bigint | undefined;
  /** The request with its id set. */
  withId(request: Req, id: number): Req;
  /** A reply that reports failure, as the error its request rejects with; null otherwise. */
  errorOf?(reply: Rep): Error | null;
  /** The request that asks the peer to stop the request `id` (e.g. Unsubscribe); none if the protocol has none. */
  cancel?(id: number): Req;
}

export interface RequestChannelOptions<Req, Rep> {
  codec: ChannelCodec<Req, Rep>;
  /** Timeout of request() when the call gives none; default none. */
  defaultTimeoutMs?: number;
  /** Default 256, the daemon's own per-connection cap: more would only be refused there. */
  maxInFlight?: number;
  /** Default 4,096: minutes of streamed tokens; a consumer further behind is stuck, not slow. */
  maxBufferedReplies?: number;
  /**
   * A reply without an id. Returning an Error fails every pending request
   * with it and makes it the reason later calls fail once the pipe closes
   * (a connection-level refusal); returning nothing drops it.
   */
  onUnsolicited?(reply: Rep): Error | undefined;
  /**
   * The error pending and later requests fail with once the pipe closed
   * (`reason`: the carrier's, null for an orderly close), unless an
   * unsolicited error was recorded first; default: the carrier's reason.
   */
  closedError?(reason: Error | null): Error;
}

export interface RequestOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface StreamOptions<Rep> {
  signal?: AbortSignal;
  /** Whether this reply is the stream's last; default: never (the peer or the caller ends it). */
  isLast?(reply: Rep): boolean;
}

export class ChannelFull extends Error {
  readonly code = 429;
  constructor(limit: number) {
    super(`${limit} requests are already in flight on this channel, its limit; wait for some to finish`);
    this.name = "ChannelFull";
  }
}

export class RequestTimeout extends Error {
  readonly code = 504;
  /** `id` 0 when the caller timed out a stream it started (its id is the channel's business). */
  constructor(id: number, ms: number) {
    super(
      `${id ? `request ${id}` : "the request"} got no reply within ${ms} ms; it was cancelled (pass a longer timeoutMs if it needs more)`,
    );
    this.name = "RequestTimeout";
  }
}

export class ChannelOverflow extends Error {
  constructor(id: number, limit: number) {
    super(`stream ${id} has ${limit} unread replies, its limit; it was cancelled (read streams as they arrive)`);
    this.name = "ChannelOverflow";
  }
}

/** One pending request: where its replies go. */
interface Pending<Rep> {
  reply(message: Rep): void;
  fail(err: Error): void;
  /** Counted against maxInFlight (cancel messages are not). */
  counted: boolean;
}

const DEFAULT_MAX_IN_FLIGHT = 256;
const DEFAULT_MAX_BUFFERED = 4096;
/** A cancel message whose acknowledgement never comes stops being awaited after this long. */
const CANCEL_ACK_MS = 30_000;

export class RequestChannel<Req, Rep> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending<Rep>>();
  private counted = 0;
  private failure: Error | null = null;
  private closedFlag = false;
  /** What requests fail with once closed. */
  private closedWith: Error | null = null;
  private dropped = 0;
  private undecodable = 0;
  private readonly codec: ChannelCodec<Req, Rep>;
  private readonly maxInFlight: number;
  private readonly maxBuffered: number;

  constructor(
    private readonly pipe: FramedPipe,
    private readonly options: RequestChannelOptions<Req, Rep>,
  ) {
    this.codec = options.codec;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.maxBuffered = options.maxBufferedReplies ?? DEFAULT_MAX_BUFFERED;
    pipe.receive({ onFrame: (frame) => this.onFrame(frame) });
    void pipe.closed.then((reason) => this.onClosed(reason));
  }

  /** Requests waiting for replies (cancel messages excluded). */
  get inFlight(): number {
    return this.counted;
  }

  /** Replies dropped because no request with their id was pending. */
  get droppedReplies(): number {
    return this.dropped;
  }

  /** Frames dropped because they did not decode. */
  get undecodableFrames(): number {
    return this.undecodable;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  get closed(): Promise<Error | null> {
    return this.pipe.closed;
  }

  /** Sends `message` and resolves with its first reply (rejects with the reply's error, a timeout, the abort reason, or the close reason). */
  request(message: Req, options: RequestOptions = {}): Promise<Rep> {
    const timeoutMs = options.timeoutMs ?? this.options.defaultTimeoutMs;
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    return new Promise<Rep>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let id = 0;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
      };
      const stop = (err: Error) => {
        if (!this.finish(id)) return;
        cleanup();
        this.sendCancel(id);
        reject(err);
      };
      const onAbort = () => stop(abortReason(options.signal!));
      const started = this.start(message, {
        reply: (reply) => {
          this.finish(id);
          cleanup();
          const err = this.codec.errorOf?.(reply) ?? null;
          if (err) reject(err);
          else resolve(reply);
        },
        fail: (err) => {
          cleanup();
          reject(err);
        },
        counted: true,
      });
      if (started instanceof Error) {
        reject(started);
        return;
      }
      id = started;
      options.signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => stop(new RequestTimeout(id, timeoutMs)), timeoutMs);
        timer.unref?.();
      }
    });
  }

  /**
   * Sends `message` and yields its replies until `isLast`, an error reply
   * (thrown), the abort (thrown) or the close (thrown). Leaving the loop
   * early cancels the request at the peer.
   */
  async *stream(message: Req, options: StreamOptions<Rep> = {}): AsyncGenerator<Rep> {
    const buffer: Rep[] = [];
    let failure: Error | null = null;
    let wake: (() => void) | null = null;
    const notify = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    let id = 0;
    let finished = false;
    let aborted: Error | null = null;
    if (options.signal?.aborted) throw abortReason(options.signal);
    const started = this.start(message, {
      reply: (reply) => {
        if (buffer.length >= this.maxBuffered) {
          failure = new ChannelOverflow(id, this.maxBuffered);
          if (this.finish(id)) this.sendCancel(id);
          finished = true;
        } else buffer.push(reply);
        notify();
      },
      fail: (err) => {
        failure = err;
        finished = true;
        notify();
      },
      counted: true,
    });
    if (started instanceof Error) throw started;
    id = started;
    const onAbort = () => {
      aborted = abortReason(options.signal!);
      notify();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        if (aborted) throw aborted;
        const reply = buffer.shift();
        if (reply !== undefined) {
          const err = this.codec.errorOf?.(reply) ?? null;
          if (err) {
            this.finish(id);
            finished = true;
            throw err;
          }
          if (options.isLast?.(reply)) {
            this.finish(id);
            finished = true;
            yield reply;
            return;
          }
          yield reply;
          continue;
        }
        if (failure) throw failure;
        await new Promise<void>((r) => (wake = r));
      }
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      // The caller stopped early (break, abort, overflow before finish): tell the peer to stop too.
      if (!finished && this.finish(id)) this.sendCancel(id);
    }
  }

  /** Closes the pipe; pending requests fail with `reason` (default: the channel's closed error). */
  close(reason?: Error): void {
    if (reason) this.failure ??= reason;
    this.pipe.close();
    this.onClosed(null);
  }

  /** Registers and sends; returns the id, or the error that refuses the request. */
  private start(message: Req, pending: Pending<Rep>): number | Error {
    if (this.closedFlag || this.pipe.isClosed) return this.closedWith ?? this.closeReason(null);
    if (pending.counted && this.counted >= this.maxInFlight) return new ChannelFull(this.maxInFlight);
    const id = this.nextId++;
    this.pending.set(id, pending);
    if (pending.counted) this.counted++;
    let frame: Uint8Array;
    try {
      frame = this.codec.encode(this.codec.withId(message, id));
    } catch (err) {
      this.finish(id);
      return err instanceof Error ? err : new Error(String(err));
    }
    this.pipe.send(frame).catch((err: unknown) => {
      if (this.finish(id)) pending.fail(this.closedWith ?? toError(err));
    });
    return id;
  }

  /** Forgets a pending request; false when it was already gone. */
  private finish(id: number): boolean {
    const pending = this.pending.get(id);
    if (!pending) return false;
    this.pending.delete(id);
    if (pending.counted) this.counted--;
    return true;
  }

  /** Fire-and-forget cancel of `id`: its acknowledgement is awaited quietly, for a bounded time. */
  private sendCancel(id: number): void {
    const cancel = this.codec.cancel?.(id);
    if (cancel === undefined || this.closedFlag) return;
    let ackId = 0;
    const timer = setTimeout(() => this.finish(ackId), CANCEL_ACK_MS);
    timer.unref?.();
    const started = this.start(cancel, {
      reply: () => clearTimeout(timer),
      fail: () => clearTimeout(timer),
      counted: false,
    });
    if (typeof started === "number") ackId = started;
    else clearTimeout(timer);
  }

  private onFrame(frame: Uint8Array): void {
    let reply: Rep;
    try {
      reply = this.codec.decode(frame);
    } catch {
      this.undecodable++;
      return;
    }
    const id = this.codec.idOf(reply);
    if (id === undefined || id === 0 || id === 0n) {
      const err = this.options.onUnsolicited?.(reply);
      if (err) {
        this.failure ??= err;
        this.failAll(err);
      }
      return;
    }
    const pending = typeof id === "number" ? this.pending.get(id) : undefined;
    if (!pending) {
      this.dropped++;
      return;
    }
    pending.reply(reply);
  }

  private onClosed(reason: Error | null): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.closedWith = this.closeReason(reason);
    this.failAll(this.closedWith);
  }

  private closeReason(reason: Error | null): Error {
    return this.failure ?? this.options.closedError?.(reason) ?? reason ?? new ConnectionClosed();
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    this.counted = 0;
    for (const p of all) p.fail(err);
  }
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException(String(reason ?? "aborted"), "AbortError");
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
