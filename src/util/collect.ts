/**
 * Collections the daemon asks for where JavaScriptCore's own schedule keeps
 * too much garbage: right after it drops something big (the history of a
 * session that streamed a 16 MB answer; an idle daemon would otherwise keep
 * that garbage, and the pages under it, until its next burst of work), and
 * paced by the bytes model streams deliver (see StreamPacer). Each is a full
 * synchronous collection that also hands freed malloc pages back to the OS.
 */

/**
 * A collection now: after the file store wrote a record of a huge text.
 * A text that was not streamed through a TextBuilder (or is over 64 MiB)
 * is flattened by the write, and the rope's pieces (as big as the text)
 * become garbage; six answers written one after another would otherwise
 * leave six texts' worth for the collector at once.
 */
export function collectNow(): void {
  Bun.gc(true);
}

/** Answers that end within this long of each other share one collection. */
const DEBOUNCE_MS = 100;

let pending: ReturnType<typeof setTimeout> | null = null;

/** A collection shortly: debounced, so answers whose histories are released together cost one. */
export function collectSoon(): void {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    Bun.gc(true);
  }, DEBOUNCE_MS);
  pending.unref?.();
}

/**
 * 4 MiB of model stream bytes between paced collections. JavaScriptCore
 * lets garbage grow to about the size of the live heap before it collects
 * (a growth factor of 2 while the heap is under a quarter of RAM), and
 * during a big stream the live heap is mostly the answers' text: six 16 MB
 * answers carried ~100 MB of garbage (per-delta strings, events, frames,
 * trace lines) plus the malloc pages under it. Measured on that bench
 * (bench/big-streams.ts, medians): peak growth 2.4x the text unpaced, 1.9x
 * every 4 MiB, 1.8x every 2 MiB; a collection of that heap takes ~9 ms, so
 * 4 MiB costs a few % of a core while six fast streams run and nothing
 * while streams arrive at model speed (an ordinary answer is a few KB).
 */
export const STREAM_PACE_BYTES = 4 * 1024 * 1024;

/**
 * Paced collections take at most 1/20 of the time: a daemon whose live heap
 * makes a collection slow (many objects) collects less often instead of
 * spending its time collecting.
 */
const PACE_DUTY = 20;

/** Counts stream bytes and collects each time another `everyBytes` have arrived (see PACE_DUTY). */
export class StreamPacer {
  private received = 0;
  private notBefore = 0;

  constructor(
    private readonly everyBytes = STREAM_PACE_BYTES,
    private readonly collect: () => void = collectNow,
    private readonly now: () => number = () => performance.now(),
  ) {}

  note(bytes: number): void {
    this.received += bytes;
    if (this.received < this.everyBytes) return;
    const start = this.now();
    if (start < this.notBefore) return;
    this.received = 0;
    this.collect();
    const end = this.now();
    this.notBefore = end + (end - start) * PACE_DUTY;
  }
}

/** The daemon's one pacer: every model stream of the process counts towards it. */
export const streamPacer = new StreamPacer();
