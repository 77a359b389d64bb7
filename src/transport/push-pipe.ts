/**
 * The carrier-independent half of FramedPipe (see pipe.ts): the interface
 * and PushPipe, with no socket code, so the dashboard's browser bundle
 * (src/web/ws-pipe.ts) can build a pipe without pulling in node modules.
 * pipe.ts re-exports everything here.
 */
import { ConnectionClosed } from "./framing.ts";

export interface PipeReceiver {
  onFrame(frame: Uint8Array): void;
}

export interface FramedPipe {
  /** Sends one frame's payload (the length prefix is the carrier's business). */
  send(frame: Uint8Array): Promise<void>;
  /** Sets the one receiver; frames that arrived before it are handed over first, in order. */
  receive(receiver: PipeReceiver): void;
  readonly isClosed: boolean;
  /** Resolves once closed: null when closed by this side or an orderly end, else why. */
  readonly closed: Promise<Error | null>;
  close(): void;
}

/** How a PushPipe writes and closes: the carrier underneath. */
export interface PipeSink {
  send(frame: Uint8Array): Promise<void>;
  close(): void;
}

/**
 * A pipe that a carrier feeds: it calls `deliver` for each frame received
 * and `end` when it closes. Frames delivered before a receiver is set wait
 * in order; that only spans the moment between connecting and attaching.
 */
export class PushPipe implements FramedPipe {
  private receiver: PipeReceiver | null = null;
  private early: Uint8Array[] = [];
  private ended = false;
  readonly closed: Promise<Error | null>;
  private resolveClosed!: (reason: Error | null) => void;

  constructor(private readonly sink: PipeSink) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  get isClosed(): boolean {
    return this.ended;
  }

  send(frame: Uint8Array): Promise<void> {
    if (this.ended) return Promise.reject(new ConnectionClosed("the pipe is closed"));
    return this.sink.send(frame);
  }

  receive(receiver: PipeReceiver): void {
    this.receiver = receiver;
    const early = this.early;
    this.early = [];
    for (const frame of early) receiver.onFrame(frame);
  }

  deliver(frame: Uint8Array): void {
    if (this.ended) return;
    if (this.receiver) this.receiver.onFrame(frame);
    else this.early.push(frame);
  }

  end(reason: Error | null = null): void {
    if (this.ended) return;
    this.ended = true;
    this.early = [];
    this.resolveClosed(reason);
  }

  close(): void {
    if (this.ended) return;
    this.end(); // first: the carrier may report its own close synchronously, and this one is orderly
    this.sink.close();
  }
}
