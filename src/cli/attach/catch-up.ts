/**
 * Finding the turn in flight when attaching to an existing session. The
 * attach stream replays the whole trace (after seq 0) and then goes live,
 * with no marker at the seam; what we want on screen is only the turn
 * that has not ended yet. So replayed events are kept per turn (a start
 * opens, an end closes and forgets), and once the stream has been quiet
 * for QUIET_MS the replay is taken as done: the open turn, if any, is
 * handed over to be rendered and later events flow straight through.
 * A live turn that happens to pause for longer than that is simply shown
 * from that point on, which is the same outcome.
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

  push(ev: StreamEvent): void {
    if (this.done) return;
    this.maxSeq = Math.max(this.maxSeq, ev.seq);
    if (ev.event === "start") this.open = [ev];
    else if (ev.event === "end") this.open = [];
    else if (this.open.length > 0) this.open.push(ev);
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
