/**
 * GFP flags (include/linux/gfp_types.h, bit positions of v6.8+). The model reads only the
 * mobility bits, __GFP_ZERO, __GFP_COMP, __GFP_THISNODE, __GFP_NOWARN and __GFP_NORETRY; the
 * others exist so composite masks print as the kernel prints them. Not an ABI.
 */
import { MmError } from './mm-error.ts';
import { MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE } from './pageblock.ts';

export const __GFP_DMA = 0x01;
export const __GFP_HIGHMEM = 0x02;
export const __GFP_DMA32 = 0x04;
export const __GFP_MOVABLE = 0x08;
export const __GFP_RECLAIMABLE = 0x10;
export const __GFP_HIGH = 0x20;
export const __GFP_IO = 0x40;
export const __GFP_FS = 0x80;
export const __GFP_ZERO = 0x100;
export const __GFP_DIRECT_RECLAIM = 0x400;
export const __GFP_KSWAPD_RECLAIM = 0x800;
export const __GFP_WRITE = 0x1000;
export const __GFP_NOWARN = 0x2000;
export const __GFP_RETRY_MAYFAIL = 0x4000;
export const __GFP_NOFAIL = 0x8000;
export const __GFP_NORETRY = 0x10000;
export const __GFP_MEMALLOC = 0x20000;
export const __GFP_COMP = 0x40000;
export const __GFP_NOMEMALLOC = 0x80000;
export const __GFP_HARDWALL = 0x100000;
export const __GFP_THISNODE = 0x200000;
export const __GFP_ACCOUNT = 0x400000;

export const __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;
/** Unmovable kernel allocations: never served from CMA pageblocks. */
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
export const GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN;
export const GFP_USER = GFP_KERNEL | __GFP_HARDWALL;
export const GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
/** Movable user allocations: may be served from CMA pageblocks (KHO scratch). */
export const GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;
export const GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;

/** `gfp_migratetype`: the free-list type an allocation starts from. */
export function gfpMigratetype(gfp: number): number {
  const mob = gfp & (__GFP_MOVABLE | __GFP_RECLAIMABLE);
  if (mob === __GFP_MOVABLE) return MIGRATE_MOVABLE;
  if (mob === __GFP_RECLAIMABLE) return MIGRATE_RECLAIMABLE;
  if (mob === 0) return MIGRATE_UNMOVABLE;
  throw new MmError('EINVAL', 'gfp mask has both __GFP_MOVABLE and __GFP_RECLAIMABLE');
}
