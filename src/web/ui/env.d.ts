/**
 * Type glue for the browser typecheck only (this folder's tsconfig.json):
 * the shared transport code calls `timer.unref?.()` on Bun's timers; in a
 * browser a timer id is a number, which has no unref (the optional call
 * does nothing there).
 */
interface Number {
  unref?(): void;
}
