/**
 * A collection right after the daemon drops something big (the history of
 * a session that streamed a 16 MB answer). JavaScriptCore collects by
 * allocation volume, so an idle daemon would keep that garbage, and the
 * pages under it, until its next burst of work; and answers that end
 * together stack their garbage up before the collector runs. Debounced:
 * answers ending together cost one collection, a few ms on a daemon's heap.
 */

/**
 * A collection now: after the file store wrote a record of a huge text.
 * Writing reads the text whole, which in JavaScriptCore turns the rope it
 * was streamed into into one flat string, and the rope's pieces (as big
 * as the text) become garbage; six answers written one after another
 * otherwise leave six texts' worth for the collector at once.
 */
export function collectNow(): void {
  Bun.gc(true);
}

/** Answers that end within this long of each other share one collection. */
const DEBOUNCE_MS = 100;

let pending: ReturnType<typeof setTimeout> | null = null;

export function collectSoon(): void {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    Bun.gc(true);
  }, DEBOUNCE_MS);
  pending.unref?.();
}
