/**
 * Convenience allocation (kernel/liveupdate/kexec_handover.c): `kho_alloc_preserve` (a zeroed, preserved,
 * unmovable folio) and `kho_unpreserve_free`. Addresses are physical.
 */
import { MAX_PAGE_ORDER } from '../mm/buddy.ts';
import { GFP_KERNEL, __GFP_ZERO } from '../mm/gfp.ts';
import { buddyOf, type KhoContext } from './context.ts';
import { preserveFolio, unpreserveFolio } from './preserve.ts';

const PAGE_SIZE = 4096;

/** `get_order(size)`: the smallest n with 4096·2^n ≥ size (size ≥ 1). */
export function getOrder(size: number): number {
  let o = 0;
  while (PAGE_SIZE * 2 ** o < size) o++;
  return o;
}

/** `kho_alloc_preserve(size)`: the folio's physical address, or -EINVAL / -E2BIG / -ENOMEM / preserve's error. */
export function allocPreserve(ctx: KhoContext, size: number): number {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return -22;
  if (size === 0) return -22;
  const order = getOrder(size);
  if (order > MAX_PAGE_ORDER) return -7;
  const buddy = buddyOf(ctx);
  const pfn = buddy.allocFolio(order, GFP_KERNEL | __GFP_ZERO);
  if (pfn === null) return -12;
  const err = preserveFolio(ctx, pfn, order);
  if (err !== 0) {
    buddy.putPage(pfn);
    return err;
  }
  return pfn * PAGE_SIZE;
}

/** `kho_unpreserve_free(mem)`: 0 is a no-op; else unpreserve the folio holding `phys` and put it. */
export function unpreserveFree(ctx: KhoContext, phys: number): void {
  if (phys === 0) return;
  const buddy = buddyOf(ctx);
  const pfn = Math.floor(phys / PAGE_SIZE);
  const head = buddy.meta.compoundHead(pfn);
  const h = head >= 0 ? head : pfn;
  const order = head >= 0 ? buddy.meta.order(head) : 0;
  unpreserveFolio(ctx, h, order);
  buddy.putPage(h);
}
