/**
 * Benchmark entries: every `bench/*.bench.ts` exports `entries`. Each entry runs in its own
 * child process (bench/child.ts) so JIT state, GC and peak RSS do not leak between entries.
 */

/** What an entry reports: named figures (numbers) and facts (strings). */
export type BenchResult = Record<string, number | string | boolean>;

/** One benchmark: a name (`area.what`) and a function that measures and reports. */
export interface BenchEntry {
  name: string;
  /** A sentence saying what is measured and in which units. */
  description: string;
  run: () => BenchResult | Promise<BenchResult>;
}

/** Seconds elapsed since `start` (from `process.hrtime.bigint()`). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Round to `digits` significant decimals for readable JSON. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** mulberry32: a small seeded PRNG of u32 values, so every bench input can be replayed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A full GC when node runs with --expose-gc (bench/run.ts does), else nothing. */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
