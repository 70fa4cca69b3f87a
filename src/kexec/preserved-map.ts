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
import { walkRadixTree } from '../kho/radix-walk.ts';

const PAGE = 4096;
/** Blocks are packed as `pfn * 64 + order` (pfn < 2^40, so the key stays below 2^46). */
const KEY_MUL = 64;

/** Preserved blocks, sorted by address. */
export interface PreservedMap {
  /** Root compatible string, or null when the FDT is unreadable. */
  compatible: string | null;
  /** Value of `preserved-memory-map` (0 when absent). */
  memMapPhys: number;
  /** Number of blocks. */
  count: number;
  /** First pfn of block i (ascending). */
  startPfn: Float64Array;
  /** End pfn (exclusive) of block i. */
  endPfn: Float64Array;
  /** Order of block i. */
  order: Uint8Array;
  /** Bytes preserved (sum of block sizes). */
  bytes: number;
  /** Tracker pages (radix nodes or v1 chunk and bitmap pages), ascending pfns. */
  trackerPfns: number[];
  /** What did not look right. */
  problems: string[];
}

function emptyMap(problems: string[], compatible: string | null = null): PreservedMap {
  return {
    compatible,
    memMapPhys: 0,
    count: 0,
    startPfn: new Float64Array(0),
    endPfn: new Float64Array(0),
    order: new Uint8Array(0),
    bytes: 0,
    trackerPfns: [],
    problems,
  };
}

/** Growable list of packed block keys. */
class KeyList {
  keys = new Float64Array(1 << 12);
  n = 0;
  push(pfn: number, order: number): void {
    if (this.n === this.keys.length) {
      const k = new Float64Array(this.keys.length * 2);
      k.set(this.keys);
      this.keys = k;
    }
    this.keys[this.n++] = pfn * KEY_MUL + order;
  }
}

/** Read the root FDT at `fdtPhys` (one page) and walk its memory map. Never throws. */
export function readPreservedMap(mem: PhysicalMemory, fdtPhys: number): PreservedMap {
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

  const list = new KeyList();
  const tracker: number[] = [];
  if (abi.memoryMap === 'radix') {
    walkRadixTree(
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
      },
    );
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

  const keys = list.keys.subarray(0, list.n).sort();
  out.count = list.n;
  out.startPfn = new Float64Array(list.n);
  out.endPfn = new Float64Array(list.n);
  out.order = new Uint8Array(list.n);
  let bytes = 0;
  for (let i = 0; i < list.n; i++) {
    const k = keys[i]!;
    const pfn = Math.floor(k / KEY_MUL);
    const order = k - pfn * KEY_MUL;
    const pages = 2 ** order;
    out.startPfn[i] = pfn;
    out.endPfn[i] = pfn + pages;
    out.order[i] = order;
    bytes += pages * PAGE;
  }
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

/**
 * Union of sorted range streams into disjoint, non-adjacent ranges. Each input must be sorted
 * by start (ends may overlap).
 */
export function unionRanges(
  inputs: readonly { start: ArrayLike<number>; end: ArrayLike<number>; count: number }[],
): PfnRanges {
  const total = inputs.reduce((n, r) => n + r.count, 0);
  const start = new Float64Array(total);
  const end = new Float64Array(total);
  let n = 0;
  const pos = inputs.map(() => 0);
  for (;;) {
    // Pick the input whose next range starts lowest (few inputs: a linear scan is enough).
    let best = -1;
    let bestStart = Infinity;
    for (let i = 0; i < inputs.length; i++) {
      const r = inputs[i]!;
      if (pos[i]! < r.count && r.start[pos[i]!]! < bestStart) {
        bestStart = r.start[pos[i]!]!;
        best = i;
      }
    }
    if (best < 0) break;
    const e = inputs[best]!.end[pos[best]!]!;
    pos[best]!++;
    if (n > 0 && bestStart <= end[n - 1]!) {
      if (e > end[n - 1]!) end[n - 1] = e;
    } else {
      start[n] = bestStart;
      end[n] = e;
      n++;
    }
  }
  return { start: start.subarray(0, n), end: end.subarray(0, n), count: n };
}

/** Ranges from a sorted pfn list (one page each). */
export function pagesAsRanges(pfns: readonly number[]): { start: number[]; end: number[]; count: number } {
  return { start: pfns, end: pfns.map((p) => p + 1), count: pfns.length } as {
    start: number[];
    end: number[];
    count: number;
  };
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
