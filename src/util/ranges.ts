/**
 * Sorted range lists: unions of sorted streams into disjoint, non-adjacent ranges, and lookups
 * in them. The kexec sanitizer keeps preserved, tracker and segment pages as such lists; KHO's
 * memory init merges the preserved blocks of every order into the ranges it reserves. Units are
 * the caller's (pfns or bytes).
 */

import { countAtMost, countBelow } from './search.ts';

/** Sorted, disjoint ranges `[start[i], end[i])`. */
export interface PfnRanges {
  start: Float64Array;
  end: Float64Array;
  count: number;
}

/** A sorted stream of ranges: `[start[i], end[i])`, or `[start[i], start[i] + span)`. */
export interface RangeStream {
  start: ArrayLike<number>;
  count: number;
  end?: ArrayLike<number>;
  span?: number;
}

/**
 * Union of sorted range streams into disjoint, non-adjacent ranges. Each input must be sorted
 * by start (ends may overlap). Each stream is coalesced on its own, then the results are merged
 * two at a time, the smaller driving: the larger one's ranges between two of the smaller's are
 * copied in bulk, so adding a few thousand tracker pages to millions of preserved ranges costs
 * about a memory copy.
 */
export function unionRanges(inputs: readonly RangeStream[]): PfnRanges {
  const parts = inputs.map(coalesce).sort((a, b) => b.count - a.count);
  let r: PfnRanges = parts[0] ?? { start: new Float64Array(0), end: new Float64Array(0), count: 0 };
  for (let i = 1; i < parts.length; i++) r = unionTwo(r, parts[i]!);
  return r;
}

/** One sorted stream as disjoint, non-adjacent ranges; returned as is when it already is. */
function coalesce(r: RangeStream): PfnRanges {
  const n = r.count;
  const s = r.start;
  const e = r.end;
  if (e instanceof Float64Array && s instanceof Float64Array && isDisjoint(s, e, n)) {
    return { start: s.subarray(0, n), end: e.subarray(0, n), count: n };
  }
  const span = r.span ?? 0;
  const start = new Float64Array(n);
  const end = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const a = s[i]!;
    const b = e === undefined ? a + span : e[i]!;
    m = appendRange(start, end, m, a, b);
  }
  return { start: start.subarray(0, m), end: end.subarray(0, m), count: m };
}

/** Appends `[a, b)` at `m`, or extends the last range when it overlaps or touches; the new count. */
function appendRange(start: Float64Array, end: Float64Array, m: number, a: number, b: number): number {
  if (m > 0 && a <= end[m - 1]!) {
    if (b > end[m - 1]!) end[m - 1] = b;
    return m;
  }
  start[m] = a;
  end[m] = b;
  return m + 1;
}

function isDisjoint(s: Float64Array, e: Float64Array, n: number): boolean {
  for (let i = 1; i < n; i++) if (s[i]! <= e[i - 1]!) return false;
  return true;
}

/** Union of two disjoint, non-adjacent range lists; `small` drives, `big` is copied in runs. */
function unionTwo(big: PfnRanges, small: PfnRanges): PfnRanges {
  if (small.count === 0) return big;
  const start = new Float64Array(big.count + small.count);
  const end = new Float64Array(big.count + small.count);
  let m = 0;
  let i = 0;
  for (let j = 0; j < small.count; j++) {
    // Big ranges wholly before this one (not touching) go over as they are: each starts after
    // the last output range ends, since every big range that reached it was consumed.
    const k = countBelow(big.end, small.start[j]!, i, big.count); // first reaching it (touching counts)
    if (k > i) {
      start.set(big.start.subarray(i, k), m);
      end.set(big.end.subarray(i, k), m);
      m += k - i;
      i = k;
    }
    // Big ranges that overlap or touch this one join it (the first may start before it).
    let a = small.start[j]!;
    let b = small.end[j]!;
    while (i < big.count && big.start[i]! <= b) {
      if (big.start[i]! < a) a = big.start[i]!;
      if (big.end[i]! > b) b = big.end[i]!;
      i++;
    }
    m = appendRange(start, end, m, a, b);
  }
  start.set(big.start.subarray(i, big.count), m);
  end.set(big.end.subarray(i, big.count), m);
  m += big.count - i;
  return { start: start.subarray(0, m), end: end.subarray(0, m), count: m };
}

/** Ranges from a sorted pfn list (one page each). */
export function pagesAsRanges(pfns: readonly number[]): RangeStream {
  return { start: pfns, count: pfns.length, span: 1 };
}

/** Index of the first range whose end is above `pfn` (binary search). */
export function firstEndingAfter(r: PfnRanges, pfn: number): number {
  return countAtMost(r.end, pfn, 0, r.count);
}

/** Pages of `r` inside `[a, b)`, and the first such pfn (-1 when none). */
export function overlapPages(r: PfnRanges, a: number, b: number): { pages: number; first: number } {
  let pages = 0;
  let first = -1;
  for (let i = firstEndingAfter(r, a); i < r.count && r.start[i]! < b; i++) {
    const s = Math.max(a, r.start[i]!);
    const e = Math.min(b, r.end[i]!);
    if (e > s) {
      if (first < 0) first = s;
      pages += e - s;
    }
  }
  return { pages, first };
}
