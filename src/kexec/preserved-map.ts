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
