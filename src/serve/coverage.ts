/**
 * Byte coverage of sorted physical ranges with O(log n) queries, so that the memory map can
 * bin millions of preserved blocks or poisoned intervals for any visible range in time
 * proportional to the bins, not to the blocks: `below(x)` is the number of covered bytes
 * under `x`, and the bytes of a bin `[a, b)` are `below(b) - below(a)`.
 */
import { countAtMost } from '../util/search.ts';

/** Covered bytes below an address, and the items that intersect a range. */
export interface Coverage {
  /** Bytes covered in `[0, x)`. */
  below(x: number): number;
  /** Number of items (ranges or blocks). */
  readonly length: number;
  /** Index of the first item that ends after `x` (items are sorted by start and disjoint). */
  firstEndingAfter(x: number): number;
  /** Start and size of item `i`. */
  start(i: number): number;
  size(i: number): number;
}

/** Last index `i` with `starts[i] < x`, or -1 (binary search over the first `n` entries). */
function lastStartBelow(starts: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Sorted disjoint ranges `[start, end)` with prefix sums of their sizes. */
export class RangeCoverage implements Coverage {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  /** `cum[i]` = bytes of ranges `0 .. i-1`. */
  private readonly cum: Float64Array;
  readonly length: number;

  private constructor(starts: Float64Array, ends: Float64Array, n: number) {
    this.starts = starts;
    this.ends = ends;
    this.length = n;
    this.cum = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) this.cum[i + 1] = this.cum[i]! + (ends[i]! - starts[i]!);
  }

  /**
   * Coverage of any ranges (unsorted, overlapping, adjacent or empty ones allowed): they are
   * sorted and merged first.
   */
  static of(ranges: readonly { start: number; end: number }[]): RangeCoverage {
    const sorted = ranges.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
    const s = new Float64Array(sorted.length);
    const e = new Float64Array(sorted.length);
    let n = 0;
    for (const r of sorted) {
      if (n > 0 && r.start <= e[n - 1]!) {
        if (r.end > e[n - 1]!) e[n - 1] = r.end;
        continue;
      }
      s[n] = r.start;
      e[n] = r.end;
      n++;
    }
    return new RangeCoverage(s, e, n);
  }

  /** Coverage of ranges that are already sorted, disjoint and non-adjacent (kept as given). */
  static sorted(starts: Float64Array, ends: Float64Array, n: number): RangeCoverage {
    return new RangeCoverage(starts, ends, n);
  }

  /** The empty coverage. */
  static readonly EMPTY: RangeCoverage = RangeCoverage.of([]);

  below(x: number): number {
    const i = lastStartBelow(this.starts, this.length, x);
    if (i < 0) return 0;
    return this.cum[i]! + Math.min(x, this.ends[i]!) - this.starts[i]!;
  }

  firstEndingAfter(x: number): number {
    return countAtMost(this.ends, x, 0, this.length);
  }

  start(i: number): number {
    return this.starts[i]!;
  }

  size(i: number): number {
    return this.ends[i]! - this.starts[i]!;
  }

  /** Total bytes. */
  get bytes(): number {
    return this.cum[this.length]!;
  }
}

/**
 * Blocks of one size (a power of two, naturally aligned, e.g. preserved blocks of one order)
 * given by their sorted start addresses; blocks are assumed disjoint (overlaps are findings
 * elsewhere and at most over-count here).
 */
export class BlockCoverage implements Coverage {
  readonly starts: Float64Array;
  readonly blockSize: number;

  constructor(starts: Float64Array, blockSize: number) {
    this.starts = starts;
    this.blockSize = blockSize;
  }

  get length(): number {
    return this.starts.length;
  }

  below(x: number): number {
    const i = lastStartBelow(this.starts, this.starts.length, x);
    if (i < 0) return 0;
    return i * this.blockSize + Math.min(x - this.starts[i]!, this.blockSize);
  }

  firstEndingAfter(x: number): number {
    return lastStartBelow(this.starts, this.starts.length, x - this.blockSize + 1) + 1;
  }

  start(i: number): number {
    return this.starts[i]!;
  }

  size(): number {
    return this.blockSize;
  }

  /** Index of the block containing `x`, or -1. */
  indexAt(x: number): number {
    const i = lastStartBelow(this.starts, this.starts.length, x + 1);
    return i >= 0 && x < this.starts[i]! + this.blockSize ? i : -1;
  }
}
