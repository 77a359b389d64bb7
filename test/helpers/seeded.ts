/**
 * A seeded random generator (mulberry32) for generated corpora: the same
 * seed gives the same numbers every run, so a test failure reproduces and a
 * benchmark measures the same data each time.
 */
export function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
