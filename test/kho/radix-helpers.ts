/**
 * Test helpers for the radix tracker: a bump page allocator with failure injection and raw
 * memory readers that do not go through the tracker.
 */
import { PhysicalMemory } from '../../src/hw/physical-memory.ts';
import { KhoRadixTree, type RadixPageAllocator } from '../../src/kho/radix-tree.ts';

/** Bump allocator handing out consecutive pfns; `failAfter` makes the n-th next call fail. */
export class TestAllocator implements RadixPageAllocator {
  next: number;
  readonly allocated: number[] = [];
  readonly freed: number[] = [];
  /** Number of further successful allocations before every call fails (-1 = never fail). */
  failAfter = -1;

  constructor(firstPfn: number) {
    this.next = firstPfn;
  }

  allocZeroedPage(): number | null {
    if (this.failAfter === 0) return null;
    if (this.failAfter > 0) this.failAfter--;
    const pfn = this.next++;
    this.allocated.push(pfn);
    return pfn;
  }

  freePage(pfn: number): void {
    this.freed.push(pfn);
  }
}

/** A 64 GiB machine, a tree whose node pages come from pfn 0x100 (1 MiB) up. */
export function newTree(opts: { limit?: number; warn?: (m: string) => void } = {}): {
  mem: PhysicalMemory;
  alloc: TestAllocator;
  tree: KhoRadixTree;
} {
  const mem = new PhysicalMemory({ limit: opts.limit ?? 2 ** 36 });
  const alloc = new TestAllocator(0x100);
  const tree = KhoRadixTree.create(mem, alloc, opts.warn === undefined ? {} : { warn: opts.warn });
  if (tree === null) throw new Error('root allocation failed');
  return { mem, alloc, tree };
}

/** The blocks a walk reports, as `[phys, order]` pairs. */
export function walkAll(tree: KhoRadixTree): [number, number][] {
  const out: [number, number][] = [];
  const r = tree.walk((phys, order) => {
    out.push([phys, order]);
    return 0;
  });
  if (r !== 0) throw new Error(`walk returned ${r}`);
  return out;
}

/** Snapshot of every touched page's bytes, keyed by pfn. */
export function snapshot(mem: PhysicalMemory): Map<number, string> {
  const out = new Map<number, string>();
  for (const pfn of mem.touchedPfns()) out.set(pfn, Buffer.from(mem.read(pfn * 4096, 4096)).toString('hex'));
  return out;
}
