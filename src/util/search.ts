/** Binary search over sorted numbers, in `sorted[from..to)`. */

/** How many leading elements of the ascending `sorted` are ≤ `x` (the upper-bound index). */
export function countAtMost(sorted: ArrayLike<number>, x: number, from = 0, to = sorted.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many leading elements of the ascending `sorted` are < `x` (the lower-bound index). */
export function countBelow(sorted: ArrayLike<number>, x: number, from = 0, to = sorted.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
