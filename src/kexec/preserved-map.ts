/**
 * What a successor will find preserved, read the way it reads it: the outgoing KHO FDT page in
 * memory → root `compatible` → `preserved-memory-map` → radix tree (kho-v2+) or v1 chunk list,
 * walked in the outgoing kernel's pages. The result is a sorted list of preserved blocks plus the
 * pages of the tracker itself (not preserved, but read by the successor before it frees them).
 * Used by the jump's sanitizer and findings; never trusts memory (problems are collected).
 */
import { decodeLe64Prop, KHO_FDT_PROP_MEMORY_MAP } from '../abi/kho-fdt.ts';
import { khoAbiVersionOfList } from '../abi/versions.ts';
import { walkKhoV1MemMap } from '../abi/kho-v1-mem-map.ts';
import { Fdt } from '../fdt/reader.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import { radixTreeStats } from '../kho/radix-tree.ts';
import { walkRadixTree } from '../kho/radix-walk.ts';
import { POW2 } from '../abi/kho-radix.ts';
import { ERRNO } from '../util/errno.ts';

const PAGE = 4096;

/** The preserved blocks of one order, ascending. */
export interface OrderBlocks {
  order: number;
  /** First pfn of each block, ascending. */
  pfns: Float64Array;
}

/** Preserved blocks, per order, each list sorted by address. */
export interface PreservedMap {
  /** Root compatible string, or null when the FDT is unreadable. */
  compatible: string | null;
  /** Value of `preserved-memory-map` (0 when absent). */
  memMapPhys: number;
  /** Number of blocks. */
  count: number;
  /** Blocks by order (orders that occur, ascending). */
  orders: OrderBlocks[];
  /** Bytes preserved (sum of block sizes). */
  bytes: number;
  /** Tracker pages (radix nodes or v1 chunk and bitmap pages), ascending pfns. */
  trackerPfns: number[];
  /** What did not look right. */
  problems: string[];
  /** The walk was stopped by `stop` (Ctrl-C): the map is incomplete. */
  interrupted: boolean;
}

function emptyMap(problems: string[], compatible: string | null = null): PreservedMap {
  return {
    compatible,
    memMapPhys: 0,
    count: 0,
    orders: [],
    bytes: 0,
    trackerPfns: [],
    problems,
    interrupted: false,
  };
}

/**
 * Blocks collected per order. The walks deliver each order in ascending address order, so no
 * sort is needed; a bucket that arrives out of order (hostile v1 map) is sorted at the end.
 */
class OrderBuckets {
  private readonly pfns: (Float64Array | undefined)[] = [];
  private readonly n: number[] = [];
  private readonly sorted: boolean[] = [];
  /** Expected blocks per order (a count read before the walk): the first array's size. */
  private readonly hint: readonly number[];
  total = 0;

  constructor(hint: readonly number[] = []) {
    this.hint = hint;
  }

  push(pfn: number, order: number): void {
    let a = this.pfns[order];
    let n = this.n[order] ?? 0;
    if (a === undefined) {
      a = new Float64Array(Math.max(1024, this.hint[order] ?? 0));
      this.pfns[order] = a;
      this.sorted[order] = true;
    } else if (n === a.length) {
      const b = new Float64Array(a.length * 2);
      b.set(a);
      a = b;
      this.pfns[order] = a;
    }
    if (n > 0 && a[n - 1]! >= pfn) this.sorted[order] = false;
    a[n++] = pfn;
    this.n[order] = n;
    this.total++;
  }

  result(): OrderBlocks[] {
    const out: OrderBlocks[] = [];
    for (let o = 0; o < this.pfns.length; o++) {
      const a = this.pfns[o];
      if (a === undefined) continue;
      const pfns = a.subarray(0, this.n[o]);
      if (this.sorted[o] !== true) pfns.sort();
      out.push({ order: o, pfns });
    }
    return out;
  }
}

/**
 * Read the root FDT at `fdtPhys` (one page) and walk its memory map. Never throws. `stop` is
 * polled during a radix walk (per leaf); when it returns true the map is `interrupted`.
 */
export function readPreservedMap(
  mem: PhysicalMemory,
  fdtPhys: number,
  opts: { stop?: () => boolean } = {},
): PreservedMap {
  const problems: string[] = [];
  let fdt: Fdt;
  try {
    fdt = new Fdt(mem.read(fdtPhys, Math.min(PAGE, mem.limit - fdtPhys)));
  } catch (e) {
    problems.push(
      `KHO FDT at 0x${fdtPhys.toString(16)} unreadable: ${e instanceof Error ? e.message : String(e)}`,
    );
    return emptyMap(problems);
  }
  let compatibles: string[] | null = null;
  let mapProp: Uint8Array | null = null;
  try {
    compatibles = fdt.getStringList(fdt.root(), 'compatible');
    mapProp = fdt.getprop(fdt.root(), KHO_FDT_PROP_MEMORY_MAP);
  } catch (e) {
    problems.push(`KHO FDT: ${e instanceof Error ? e.message : String(e)}`);
  }
  const abi = compatibles === null ? null : khoAbiVersionOfList(compatibles);
  const compatible = abi?.compatible ?? compatibles?.[0] ?? null;
  if (abi === null) {
    problems.push(`KHO FDT compatible ${JSON.stringify(compatibles)} names no KHO version`);
    return emptyMap(problems, compatible);
  }
  const d = mapProp !== null && mapProp.length === 8 ? decodeLe64Prop(mapProp) : null;
  const root = d !== null && d.ok ? d.value : 0;
  const out = emptyMap(problems, compatible);
  out.memMapPhys = root;
  if (root === 0) {
    problems.push('preserved-memory-map is missing or 0: nothing is handed over');
    return out;
  }

  // Sized from a popcount pass over the leaves, so the walk writes each array once instead of
  // growing it by doubling (fresh host memory is what millions of blocks cost most here).
  const list = new OrderBuckets(
    abi.memoryMap === 'radix' ? radixTreeStats(mem, root, { onProblem: () => undefined }).blocksByOrder : [],
  );
  const tracker: number[] = [];
  if (abi.memoryMap === 'radix') {
    const r = walkRadixTree(
      mem,
      root,
      (phys, order) => {
        list.push(phys / PAGE, order);
        return 0;
      },
      {
        onNode: (phys) => {
          tracker.push(phys / PAGE);
        },
        onProblem: (p) => {
          if (problems.length < 32) problems.push(`radix tree: ${p.message}`);
        },
        ...(opts.stop === undefined ? {} : { stop: opts.stop }),
      },
    );
    if (r === -ERRNO.EINTR) out.interrupted = true;
  } else {
    const r = walkKhoV1MemMap(
      root,
      (p, len) => {
        try {
          return mem.read(p, len);
        } catch {
          return null;
        }
      },
      {
        onBlock: (phys, order) => {
          list.push(phys / PAGE, order);
        },
      },
    );
    if (!r.ok) problems.push(`v1 memory map: ${r.error.message}`);
    else {
      for (const c of r.value.chunks) {
        tracker.push(Math.floor(c.phys / PAGE));
        for (const b of c.bitmaps) tracker.push(Math.floor(b.bitmap / PAGE));
      }
    }
  }

  out.orders = list.result();
  out.count = list.total;
  let bytes = 0;
  for (const o of out.orders) bytes += o.pfns.length * POW2[o.order + 12]!;
  out.bytes = bytes;
  out.trackerPfns = tracker.sort((a, b) => a - b);
  return out;
}

/** Sorted, disjoint pfn ranges `[start[i], end[i])`. */
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
    if (m > 0 && a <= end[m - 1]!) {
      if (b > end[m - 1]!) end[m - 1] = b;
    } else {
      start[m] = a;
      end[m] = b;
      m++;
    }
  }
  return { start: start.subarray(0, m), end: end.subarray(0, m), count: m };
}

function isDisjoint(s: Float64Array, e: Float64Array, n: number): boolean {
  for (let i = 1; i < n; i++) if (s[i]! <= e[i - 1]!) return false;
  return true;
}

/** First index in `[from, r.count)` whose range ends at or after `pfn` (touching counts). */
function firstReaching(r: PfnRanges, pfn: number, from: number): number {
  let lo = from;
  let hi = r.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (r.end[mid]! < pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
    const k = firstReaching(big, small.start[j]!, i);
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
    if (m > 0 && a <= end[m - 1]!) {
      if (b > end[m - 1]!) end[m - 1] = b;
    } else {
      start[m] = a;
      end[m] = b;
      m++;
    }
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
  let lo = 0;
  let hi = r.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (r.end[mid]! <= pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
