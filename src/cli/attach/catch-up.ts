/**
 * Finding the turn in flight when attaching to an existing session. The
 * attach stream first says where its replay ends (Attached.last_seq), then
 * replays the trace and goes live; what we want on screen is only the turn
 * that has not ended yet. So replayed events are kept per turn (a start
 * opens, an end closes and forgets); when the replay reaches last_seq the
 * open turn, if any, is handed over to be rendered and later events flow
 * straight through. A daemon that sends no Attached marker (older
 * versions) falls back to QUIET_MS of silence as the end of the replay.
 */
import type { StreamEvent } from "../../protocol/gen/crabtalk.ts";

/** A replayed trace arrives as one burst (10k events in well under a second); a pause this long means it is over. */
const QUIET_MS = 300;

export class CatchUp {
  done = false;
  maxSeq = 0;
  private open: StreamEvent[] = [];
  private timer: ReturnType<typeof setTimeout>;
  private resolve!: () => void;
  readonly settled = new Promise<void>((r) => (this.resolve = r));

  constructor(private readonly onSettled: (openTurn: StreamEvent[], maxSeq: number) => void) {
    this.timer = setTimeout(() => this.finish(), QUIET_MS);
  }

  /** The daemon's marker: replay ends at `lastSeq`. */
  expect(lastSeq: number): void {
    this.replayEnd = lastSeq;
    clearTimeout(this.timer); // the marker is exact: no need to guess from silence
    if (this.maxSeq >= lastSeq) this.finish();
  }

  private replayEnd: number | undefined;

  push(ev: StreamEvent): void {
    if (this.done) return;
    this.maxSeq = Math.max(this.maxSeq, ev.seq);
    if (ev.event === "start") this.open = [ev];
    else if (ev.event === "end") this.open = [];
    else if (this.open.length > 0) this.open.push(ev);
    if (this.replayEnd !== undefined) {
      if (this.maxSeq >= this.replayEnd) this.finish();
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.finish(), QUIET_MS);
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.onSettled(this.open, this.maxSeq);
    this.open = [];
    this.resolve();
  }
}
