/**
 * Collections the daemon asks for where JavaScriptCore's own schedule keeps
 * too much garbage: right after it drops something big (the history of a
 * session that streamed a 16 MB answer; an idle daemon would otherwise keep
 * that garbage, and the pages under it, until its next burst of work), and
 * paced by the bytes model streams deliver (see StreamCollections), and once when
 * the daemon goes quiet after heavy streaming (see QuietCollector). Each is a
 * full synchronous collection that also hands freed malloc pages back to the
 * OS, except the young collections between paced ones.
 */
import { logger } from "./log.ts";

const log = logger("memory");

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
  /** Every stream byte ever noted (QuietCollector compares it with its last collection's). */
  total = 0;

  constructor(
    private readonly everyBytes = STREAM_PACE_BYTES,
    private readonly collect: () => void = collectNow,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Counts `bytes`; true when that made it collect. */
  note(bytes: number): boolean {
    this.total += bytes;
    this.received += bytes;
    if (this.received < this.everyBytes) return false;
    const start = this.now();
    if (start < this.notBefore) return false;
    this.received = 0;
    this.collect();
    const end = this.now();
    this.notBefore = end + (end - start) * PACE_DUTY;
    return true;
  }

  /** Counts from zero again: another collection just did this one's work. */
  restart(): void {
    this.received = 0;
  }
}

/**
 * 1 MiB of model stream bytes between young collections (between the paced
 * full ones). A full collection every 4 MiB still left JavaScriptCore's
 * object space ~40 MB over the live heap at six 16 MB streams' peak: the
 * per-delta objects of a pace (SSE lines, parsed chunks, events, frames).
 * A young (eden) collection frees them while they are young, at a cost
 * proportional to them rather than to the answers' text, and their cells
 * are reused instead of new blocks taken. bench/big-streams.ts, same
 * machine, four runs each: peak growth 187-231 MB with full collections
 * only, 146-155 MB with young ones added (daemon CPU unchanged, 8.4-9.0 s).
 */
export const YOUNG_PACE_BYTES = 1024 * 1024;

let edenGC: (() => void) | null | undefined;

/**
 * A young-generation collection now (bun:jsc edenGC, loaded at the first
 * call so start-up never pays for the module); nothing on a Bun without it.
 */
export function collectYoung(): void {
  if (edenGC === undefined) {
    const jsc = require("bun:jsc") as { edenGC?: () => void };
    edenGC = typeof jsc.edenGC === "function" ? jsc.edenGC : null;
  }
  edenGC?.();
}

/**
 * The stream bytes of every model stream, pacing two kinds of collection:
 * a full one every STREAM_PACE_BYTES and young ones every YOUNG_PACE_BYTES
 * between them (a full collection restarts the young count: it freed the
 * young objects too).
 */
export class StreamCollections {
  constructor(
    readonly full: StreamPacer = new StreamPacer(),
    readonly young: StreamPacer = new StreamPacer(YOUNG_PACE_BYTES, collectYoung),
  ) {}

  /** Every stream byte ever noted. */
  get total(): number {
    return this.full.total;
  }

  note(bytes: number): void {
    if (this.full.note(bytes)) this.young.restart();
    else this.young.note(bytes);
  }
}

/** The daemon's one pacer: every model stream of the process counts towards it. */
export const streamPacer = new StreamCollections();

/**
 * Stream bytes since the last quiet collection past which the daemon going
 * quiet is worth one: 8 MiB is thousands of ordinary answers (a few KB
 * each), so a chatting daemon pays one such collection now and then, while
 * one big answer, or six, always gets one.
 */
export const QUIET_AFTER_BYTES = 8 * 1024 * 1024;

/** How long no turn may end, and none run, before the quiet collection. */
export const QUIET_MS = 5_000;

export interface QuietCollectorOptions {
  /** Stream bytes received so far, in all (the daemon's: streamPacer.total). */
  streamed: () => number;
  afterBytes?: number;
  quietMs?: number;
  collect?: () => void;
  setTimer?: (run: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

/**
 * One collection once the daemon goes quiet after heavy streaming: QUIET_MS
 * after the last turn ended, if at least QUIET_AFTER_BYTES of model streams
 * arrived since the previous one and no turn is queued or running then (a
 * turn running at that moment postpones it to QUIET_MS after its own end).
 * Nothing is scheduled while the daemon only idles or chats.
 *
 * Why: a minute after six 16 MB answers (bench/big-streams.ts) the daemon
 * held ~6 MB of anonymous memory over idle (JIT code of the hot per-delta
 * path, allocator pages JavaScriptCore returns only slowly), which the
 * paced collections during the streams do not reach. Measured with
 * /proc/PID/smaps: a full collection then gave back ~1 MB, one followed by
 * Bun.shrink() (below) ~5 MB, to ~1 MB over idle. The bench, A/B in one
 * run: RSS 60 s after 62.0 MB (1.24x idle) -> 55.3 MB (1.12x). What stays
 * is ~6 MB of the binary's own code pages (JavaScriptCore's optimizing
 * compilers, run by the streams), file-backed and not returned by this.
 */
export class QuietCollector {
  private collectedAt = 0;
  private timer: unknown = null;
  private readonly afterBytes: number;
  private readonly quietMs: number;
  private readonly collect: () => void;
  private readonly setTimer: (run: () => void, ms: number) => unknown;
  private readonly clearTimer: (timer: unknown) => void;

  constructor(private readonly options: QuietCollectorOptions) {
    this.afterBytes = options.afterBytes ?? QUIET_AFTER_BYTES;
    this.quietMs = options.quietMs ?? QUIET_MS;
    this.collect = options.collect ?? collectAndShrink;
    this.setTimer =
      options.setTimer ??
      ((run, ms) => {
        const t = setTimeout(run, ms);
        t.unref?.();
        return t;
      });
    this.clearTimer = options.clearTimer ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>));
  }

  /** A turn ended; `busy` says, when the quiet time is up, whether any turn is queued or running. */
  turnEnded(busy: () => boolean): void {
    if (this.options.streamed() - this.collectedAt < this.afterBytes) return;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = this.setTimer(() => {
      this.timer = null;
      // A turn under way: its own end arms the collection again.
      if (busy()) {
        log.debug("quiet-time collection postponed: a turn is running");
        return;
      }
      const mib = (this.options.streamed() - this.collectedAt) / 1048576;
      log.debug(`quiet-time collection after ${mib.toFixed(1)} MiB of model streams`);
      this.collectedAt = this.options.streamed();
      this.collect();
    }, this.quietMs);
  }
}

/**
 * A full collection, then Bun.shrink(): JavaScriptCore's footprint shrink
 * (it drops compiled code that is not running, collects again and returns
 * the allocators' free pages to the OS), done at its next idle moment.
 * Bun marks shrink() deprecated without a replacement; it is the one call
 * that returns those pages (a second full collection returned nothing more).
 */
function collectAndShrink(): void {
  Bun.gc(true);
  // Checked: a Bun without it must not throw in a timer (that would end the daemon); the collection still runs.
  if (typeof Bun.shrink === "function") Bun.shrink();
}

/** The daemon's one quiet-time collector, counting the bytes of every model stream (streamPacer). */
export const quietCollector = new QuietCollector({ streamed: () => streamPacer.total });
