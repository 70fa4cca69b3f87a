/**
 * The preserved set as decoded from a memory map: blocks `(phys, order)` kept per order in
 * growable typed arrays (16M blocks cost 128 MiB, not millions of objects), then sorted,
 * coalesced into ranges and checked for overlaps.
 */
import { POW2 } from '../abi/kho-radix.ts';
import type { ImageRange } from './memory-image.ts';
import { RangeList } from './range-list.ts';

/** Highest order a block can have below 2^52. */
export const MAX_BLOCK_ORDER = 40;

/** Blocks of one order: count and bytes. */
export interface OrderSummary {
  order: number;
  count: number;
  bytes: number;
}

/** An overlap between two preserved blocks (or a block and a coalesced range). */
export interface BlockOverlap {
  phys: number;
  order: number;
  /** The range it overlaps. */
  with: ImageRange;
}

/** Preserved blocks per order; call {@link finish} once all are added. */
export class PreservedSet {
  private readonly lists: (Float64Array | undefined)[] = [];
  private readonly counts: number[] = new Array<number>(MAX_BLOCK_ORDER + 1).fill(0);
  private total = 0;
  private ranges: RangeList | null = null;
  /** Overlaps found by {@link finish} (capped at `maxOverlaps`). */
  overlaps: BlockOverlap[] = [];
  /** All overlaps found, even past the cap. */
  overlapCount = 0;

  /** Number of blocks. */
  get count(): number {
    return this.total;
  }

  /** Add a block (order 0..40, any phys; duplicates are overlaps). */
  add(phys: number, order: number): void {
    let a = this.lists[order];
    const n = this.counts[order]!;
    if (a === undefined || n === a.length) {
      const b = new Float64Array(a === undefined ? 1024 : a.length * 2);
      if (a !== undefined) b.set(a);
      this.lists[order] = a = b;
    }
    a[n] = phys;
    this.counts[order] = n + 1;
    this.total++;
    this.ranges = null;
  }

  /** Blocks and bytes per order that has blocks, ascending by order. */
  byOrder(): OrderSummary[] {
    const out: OrderSummary[] = [];
    for (let o = 0; o <= MAX_BLOCK_ORDER; o++) {
      const count = this.counts[o]!;
      if (count !== 0) out.push({ order: o, count, bytes: count * POW2[12 + o]! });
    }
    return out;
  }

  /** Bytes covered by all blocks (overlaps counted twice). */
  bytes(): number {
    return this.byOrder().reduce((s, x) => s + x.bytes, 0);
  }

  /** The sorted blocks of one order (after {@link finish}). */
  ofOrder(order: number): Float64Array {
    const a = this.lists[order];
    return a === undefined ? new Float64Array(0) : a.subarray(0, this.counts[order]);
  }

  /**
   * Sort every order, merge all orders into coalesced ranges and record overlaps. Returns the
   * ranges `[start, end)` ascending; adjacent blocks coalesce, overlapping ones too (reported).
   */
  finish(maxOverlaps = 50): RangeList {
    if (this.ranges !== null) return this.ranges;
    const orders: number[] = [];
    for (let o = 0; o <= MAX_BLOCK_ORDER; o++) {
      const a = this.ofOrder(o);
      if (a.length === 0) continue;
      let sorted = true;
      for (let i = 1; i < a.length; i++) {
        if (a[i]! < a[i - 1]!) {
          sorted = false;
          break;
        }
      }
      if (!sorted) a.sort();
      orders.push(o);
    }
    // k-way merge by start address (k ≤ 41: a linear pick is cheap enough).
    const pos = orders.map(() => 0);
    const lists = orders.map((o) => this.ofOrder(o));
    const sizes = orders.map((o) => POW2[12 + o]!);
    const ranges = new RangeList(1024);
    let curStart = -1; // -1: no current range
    let curEnd = 0;
    this.overlaps = [];
    this.overlapCount = 0;
    for (;;) {
      const best = minHead(lists, pos);
      if (best < 0) break;
      // Take the whole run of this order that starts before any other list's next block.
      const list = lists[best]!;
      const size = sizes[best]!;
      let next = Infinity;
      for (let k = 0; k < lists.length; k++) {
        if (k === best) continue;
        const p = pos[k]!;
        if (p < lists[k]!.length && lists[k]![p]! < next) next = lists[k]![p]!;
      }
      let p = pos[best]!;
      do {
        const phys = list[p]!;
        const end = phys + size;
        if (curStart < 0) {
          curStart = phys;
          curEnd = end;
        } else if (phys < curEnd) {
          this.overlapCount++;
          if (this.overlaps.length < maxOverlaps) {
            this.overlaps.push({ phys, order: orders[best]!, with: { start: curStart, end: curEnd } });
          }
          if (end > curEnd) curEnd = end;
        } else if (phys === curEnd) {
          curEnd = end;
        } else {
          ranges.push(curStart, curEnd);
          curStart = phys;
          curEnd = end;
        }
        p++;
      } while (p < list.length && list[p]! <= next);
      pos[best] = p;
    }
    if (curStart >= 0) ranges.push(curStart, curEnd);
    this.ranges = ranges;
    return ranges;
  }

  /** Whether exactly this block (phys, order) is in the set (after {@link finish}). */
  hasBlock(phys: number, order: number): boolean {
    if (order < 0 || order > MAX_BLOCK_ORDER) return false;
    const a = this.ofOrder(order);
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid]!;
      if (v === phys) return true;
      if (v < phys) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** The order of the block that starts at `phys`, or -1 when none does (after {@link finish}). */
  blockOrderAt(phys: number): number {
    for (let o = 0; o <= MAX_BLOCK_ORDER; o++) {
      if (this.counts[o]! > 0 && this.hasBlock(phys, o)) return o;
    }
    return -1;
  }

  /** Iterate blocks in address order (after {@link finish}); stop when `fn` returns false. */
  forEachSorted(fn: (phys: number, order: number) => boolean): void {
    const orders: number[] = [];
    for (let o = 0; o <= MAX_BLOCK_ORDER; o++) if (this.counts[o]! > 0) orders.push(o);
    const pos = orders.map(() => 0);
    const lists = orders.map((o) => this.ofOrder(o));
    for (;;) {
      const best = minHead(lists, pos);
      if (best < 0) return;
      const phys = lists[best]![pos[best]!]!;
      pos[best]!++;
      if (!fn(phys, orders[best]!)) return;
    }
  }
}

/** k-way merge step: the list whose next entry (at `pos[k]`) is the smallest, or -1 when all are done. */
function minHead(lists: readonly ArrayLike<number>[], pos: readonly number[]): number {
  let best = -1;
  let bestPhys = Infinity;
  for (let k = 0; k < lists.length; k++) {
    const p = pos[k]!;
    if (p < lists[k]!.length && lists[k]![p]! < bestPhys) {
      bestPhys = lists[k]![p]!;
      best = k;
    }
  }
  return best;
}
