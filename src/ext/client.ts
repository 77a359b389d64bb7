/**
 * ExtClient: the daemon's side of one extension connection (ext.proto),
 * on the shared RequestChannel.
 *
 * Two modes, decided by the extension's first reply (ExtReady):
 * - multiplexed: it echoes request_id, so any number of calls are in
 *   flight, each answered by id; a reply arriving after its call timed out
 *   finds no pending id and is dropped;
 * - one at a time: it never echoes ids (a reference-style extension), so
 *   calls are queued and a reply without id belongs to the one in flight.
 *   There a late reply could not be told from the next call's answer, so a
 *   timeout desynchronizes the connection: `onDesync` is called (the host
 *   restarts the extension) and later calls fail at once.
 *
 * While it handles a request an extension may send ExtInferRequest under
 * that request's id; `onInfer` answers it and the request goes on until
 * its final reply. A frame that does not decode is a protocol violation:
 * `onViolation` is called (the host restarts the extension).
 */
import { extRequest, extResponse, type Init } from "../protocol/codec.ts";
import type { ExtRequest, ExtResponse, SimpleMessage } from "../protocol/gen/ext.ts";
import type { FramedPipe } from "../transport/pipe.ts";
import { type ChannelCodec, RequestChannel } from "../transport/request-channel.ts";

export type ExtMessage = Init<ExtRequest>;

/** The extension answered ExtError. */
export class ServiceError extends Error {
  override readonly name = "ServiceError";
}

/** The extension gave no final reply within the call's timeout. */
export class ServiceTimeout extends Error {
  override readonly name = "ServiceTimeout";
  constructor(
    readonly service: string,
    readonly ms: number,
  ) {
    super(`service timeout: ${service} (no answer within ${ms} ms)`);
  }
}

/** The extension cannot take calls now (down, restarting, connection lost). */
export class ServiceUnavailable extends Error {
  override readonly name = "ServiceUnavailable";
  constructor(
    readonly service: string,
    readonly why: string,
  ) {
    super(`service unavailable: ${service} (${why})`);
  }
}

export interface CallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** The agent the call serves: whose model answers the extension's inference requests. */
  agent?: string;
}

export interface ExtClientOptions {
  service: string;
  /** Answers an ExtInferRequest sent while a call of `agent` is handled. */
  onInfer(messages: SimpleMessage[], agent: string | undefined, signal: AbortSignal): Promise<string>;
  onViolation(why: string): void;
  onDesync(why: string): void;
}

export class ExtClient {
  private readonly channel: RequestChannel<ExtMessage, ExtResponse>;
  /** Until the first reply says otherwise, one at a time (the handshake is sequential anyway). */
  private serial = true;
  private decided = false;
  /** The id of the call in flight, in one-at-a-time mode. */
  private current = 0;
  private lane: Promise<void> = Promise.resolve();
  private desynced: string | null = null;

  constructor(
    private readonly pipe: FramedPipe,
    private readonly options: ExtClientOptions,
  ) {
    const codec: ChannelCodec<ExtMessage, ExtResponse> = {
      encode: (message) => extRequest.encode(message),
      decode: (frame) => {
        try {
          return extResponse.decode(frame);
        } catch (err) {
          options.onViolation(
            `it wrote a frame of ${frame.byteLength} bytes that is not an ExtResponse (${(err as Error).message})`,
          );
          throw err;
        }
      },
      idOf: (reply) => {
        const id = Number(reply.requestId ?? 0);
        if (!this.decided) {
          this.decided = true;
          this.serial = id === 0;
        }
        return id !== 0 ? id : this.serial ? this.current : 0;
      },
      withId: (message, id) => {
        this.current = id;
        return { ...message, requestId: id };
      },
      errorOf: (reply) => (reply.msg === "error" ? new ServiceError(reply.error?.message ?? "") : null),
    };
    this.channel = new RequestChannel(pipe, {
      codec,
      maxInFlight: 1024,
      closedError: (reason) => new ServiceUnavailable(options.service, reason?.message ?? "its connection closed"),
    });
  }

  /** Whether calls are served one at a time (the extension never echoes request ids). */
  get oneAtATime(): boolean {
    return this.serial;
  }

  get inFlight(): number {
    return this.channel.inFlight;
  }

  get closed(): Promise<Error | null> {
    return this.channel.closed;
  }

  /** Sends `message` and resolves with the extension's final reply; rejects with ServiceError, ServiceTimeout or ServiceUnavailable. */
  call(message: ExtMessage, options: CallOptions): Promise<ExtResponse> {
    if (this.desynced) return Promise.reject(new ServiceUnavailable(this.options.service, this.desynced));
    if (!this.serial) return this.exchange(message, options);
    const run = this.lane.then(() => this.exchange(message, options));
    this.lane = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /** Sends a frame that has no reply (ExtEvent, ExtShutdown); waits only for room to write it. */
  async notify(message: ExtMessage): Promise<void> {
    await this.pipe.send(extRequest.encode(message));
  }

  close(reason?: Error): void {
    this.channel.close(reason);
  }

  private async exchange(message: ExtMessage, options: CallOptions): Promise<ExtResponse> {
    if (this.desynced) throw new ServiceUnavailable(this.options.service, this.desynced);
    const controller = new AbortController();
    const timeout = new ServiceTimeout(this.options.service, options.timeoutMs);
    const timer = setTimeout(() => controller.abort(timeout), options.timeoutMs);
    const onOuter = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) onOuter();
    else options.signal?.addEventListener("abort", onOuter, { once: true });
    try {
      for await (const reply of this.channel.stream(message, {
        signal: controller.signal,
        isLast: (r) => r.msg !== "inferRequest",
      })) {
        if (reply.msg !== "inferRequest") return reply;
        const id = Number(reply.requestId ?? 0) || this.current;
        // ExtInferResult has only text: a failed inference is answered as text saying so, and the call goes on.
        const content = await this.options
          .onInfer(reply.inferRequest?.messages ?? [], options.agent, controller.signal)
          .catch((err: unknown) => `infer failed: ${err instanceof Error ? err.message : String(err)}`);
        await this.pipe.send(extRequest.encode({ inferResult: { content }, requestId: id }));
      }
      throw new ServiceUnavailable(this.options.service, "the call ended without a reply");
    } catch (err) {
      if (controller.signal.reason === timeout && this.serial) {
        this.desynced = `it did not answer a call within ${options.timeoutMs} ms and answers one call at a time, so a late answer could be taken for the next call's`;
        this.options.onDesync(this.desynced);
      }
      if (controller.signal.reason === timeout) throw timeout;
      throw err;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onOuter);
    }
  }
}
