/**
 * Sorted, disjoint physical ranges `[start, end)` kept in two growable Float64Arrays: millions
 * of coalesced preserved ranges (every other page preserved) cost 16 bytes each, not an object.
 */
import type { ImageRange } from './memory-image.ts';

/** Sorted disjoint ranges with binary-search lookups. Append in ascending order only. */
export class RangeList {
  private s: Float64Array;
  private e: Float64Array;
  private n = 0;

  constructor(capacity = 16) {
    this.s = new Float64Array(Math.max(1, capacity));
    this.e = new Float64Array(Math.max(1, capacity));
  }

  /** A list from ranges that are already sorted and disjoint. */
  static from(ranges: readonly ImageRange[]): RangeList {
    const l = new RangeList(ranges.length);
    for (const r of ranges) l.push(r.start, r.end);
    return l;
  }

  /** Number of ranges. */
  get length(): number {
    return this.n;
  }

  /** Append `[start, end)` (must start at or after the last range's end). */
  push(start: number, end: number): void {
    if (this.n === this.s.length) {
      const s = new Float64Array(this.n * 2);
      const e = new Float64Array(this.n * 2);
      s.set(this.s);
      e.set(this.e);
      this.s = s;
      this.e = e;
    }
    this.s[this.n] = start;
    this.e[this.n] = end;
    this.n++;
  }

  start(i: number): number {
    return this.s[i]!;
  }

  end(i: number): number {
    return this.e[i]!;
  }

  /** Range `i` as an object. */
  at(i: number): ImageRange {
    return { start: this.s[i]!, end: this.e[i]! };
  }

  /** The first `max` ranges as objects. */
  toArray(max = Infinity): ImageRange[] {
    const out: ImageRange[] = [];
    const n = Math.min(this.n, max);
    for (let i = 0; i < n; i++) out.push(this.at(i));
    return out;
  }

  /** Total bytes covered. */
  bytes(): number {
    let b = 0;
    for (let i = 0; i < this.n; i++) b += this.e[i]! - this.s[i]!;
    return b;
  }

  /** Index of the range containing `phys`, or -1. */
  indexOf(phys: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (phys < this.s[mid]!) hi = mid - 1;
      else if (phys >= this.e[mid]!) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** Whether `[start, start+len)` (at least one byte) lies wholly inside one range. */
  covers(start: number, len: number): boolean {
    const i = this.indexOf(start);
    return i >= 0 && start + Math.max(len, 1) <= this.e[i]!;
  }

  /** The first range intersecting `[start, end)`, or null. */
  firstIntersection(start: number, end: number): ImageRange | null {
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.e[mid]! <= start) lo = mid + 1;
      else hi = mid - 1;
    }
    return lo < this.n && this.s[lo]! < end ? this.at(lo) : null;
  }
}
