/**
 * Pageblocks: the 2 MiB (order 9) units that carry a migratetype (include/linux/pageblock-flags.h,
 * include/linux/mmzone.h). One byte per pageblock of a node's span, in a Uint8Array: a 1 TiB
 * node costs 512 KiB. Every pageblock starts MOVABLE, as `memmap_init` leaves it.
 */
import { MmError } from './mm-error.ts';

/** `pageblock_order` on x86-64 with 4 KiB pages. */
export const PAGEBLOCK_ORDER = 9;
/** Pages per pageblock. */
export const PAGEBLOCK_NR_PAGES = 1 << PAGEBLOCK_ORDER;

/** Migratetypes in the kernel's enum order (CONFIG_CMA=y, CONFIG_MEMORY_ISOLATION=y). */
export const MIGRATE_UNMOVABLE = 0;
export const MIGRATE_MOVABLE = 1;
export const MIGRATE_RECLAIMABLE = 2;
/** `MIGRATE_PCPTYPES`: the number of types on per-cpu lists; equals MIGRATE_HIGHATOMIC. */
export const MIGRATE_PCPTYPES = 3;
export const MIGRATE_HIGHATOMIC = 3;
export const MIGRATE_CMA = 4;
export const MIGRATE_ISOLATE = 5;
/** `MIGRATE_TYPES`. */
export const MIGRATE_TYPES = 6;

/** Names as /proc/pagetypeinfo prints them. */
export const MIGRATETYPE_NAMES: readonly string[] = [
  'Unmovable',
  'Movable',
  'Reclaimable',
  'HighAtomic',
  'CMA',
  'Isolate',
];

/** `migratetype_is_mergeable`: may free blocks of this type merge with other types? */
export function migratetypeIsMergeable(mt: number): boolean {
  return mt < MIGRATE_PCPTYPES;
}

/** Migratetypes of one node's span, one byte per pageblock. */
export class NodePageblocks {
  /** First pfn covered (aligned down to a pageblock). */
  readonly basePfn: number;
  /** Pfn after the last covered pageblock. */
  readonly endPfn: number;
  /** One migratetype per pageblock. */
  readonly types: Uint8Array;

  constructor(startPfn: number, endPfn: number) {
    this.basePfn = Math.floor(startPfn / PAGEBLOCK_NR_PAGES) * PAGEBLOCK_NR_PAGES;
    this.endPfn = Math.ceil(endPfn / PAGEBLOCK_NR_PAGES) * PAGEBLOCK_NR_PAGES;
    this.types = new Uint8Array((this.endPfn - this.basePfn) / PAGEBLOCK_NR_PAGES).fill(MIGRATE_MOVABLE);
  }

  /** True when `pfn` lies in the covered span. */
  covers(pfn: number): boolean {
    return pfn >= this.basePfn && pfn < this.endPfn;
  }

  /** `get_pageblock_migratetype` (pfn must be covered). */
  get(pfn: number): number {
    return this.types[(pfn - this.basePfn) >>> PAGEBLOCK_ORDER]!;
  }

  /** `set_pageblock_migratetype` (pfn must be covered). */
  set(pfn: number, mt: number): void {
    if (!Number.isInteger(mt) || mt < 0 || mt >= MIGRATE_TYPES)
      throw new MmError('EINVAL', `bad migratetype ${String(mt)}`);
    if (!this.covers(pfn)) throw new MmError('EINVAL', `pfn 0x${pfn.toString(16)} outside node span`);
    this.types[(pfn - this.basePfn) >>> PAGEBLOCK_ORDER] = mt;
  }

  /** Pageblock counts per migratetype (like a line of /proc/pagetypeinfo's block counts). */
  counts(): number[] {
    const c = new Array<number>(MIGRATE_TYPES).fill(0);
    for (const t of this.types) c[t]!++;
    return c;
  }
}
