/**
 * fail_page_alloc (mm/fail_page_alloc.c): fault injection into the page allocator.
 * `should_fail_alloc_page()` (called from mm/page_alloc.c: prepare_alloc_pages(), so an
 * injected failure returns NULL without the `page allocation failure` warning) skips orders
 * below `min-order` (default 1), __GFP_NOFAIL, __GFP_HIGHMEM while `ignore-gfp-highmem` is Y
 * and allocations that may sleep while `ignore-gfp-wait` is Y (both defaults); the size given to
 * `should_fail_ex()` is the number of pages, `1 << order`.
 */
import { FAULT_NOWARN, FaultAttr, type FaultAttrDeps } from './fault-inject.ts';
import { __GFP_DIRECT_RECLAIM, __GFP_HIGHMEM, __GFP_NOFAIL, __GFP_NOWARN } from './gfp.ts';

/** The fail_page_alloc capability of one kernel. */
export class FailPageAlloc {
  readonly attr: FaultAttr;
  /** `ignore-gfp-highmem`. */
  ignoreGfpHighmem = true;
  /** `ignore-gfp-wait` (`ignore_gfp_reclaim`). */
  ignoreGfpReclaim = true;
  /** `min-order` (u32). */
  minOrder = 1;

  constructor(deps: FaultAttrDeps) {
    this.attr = new FaultAttr('fail_page_alloc', deps);
  }

  /** `__should_fail_alloc_page(gfp, order)`. */
  shouldFailAllocPage(gfp: number, order: number): boolean {
    if (order < this.minOrder) return false;
    if ((gfp & __GFP_NOFAIL) !== 0) return false;
    if (this.ignoreGfpHighmem && (gfp & __GFP_HIGHMEM) !== 0) return false;
    if (this.ignoreGfpReclaim && (gfp & __GFP_DIRECT_RECLAIM) !== 0) return false;
    const flags = (gfp & __GFP_NOWARN) !== 0 ? FAULT_NOWARN : 0;
    return this.attr.shouldFailEx(2 ** order, flags, [
      'should_fail_alloc_page',
      'prepare_alloc_pages',
      '__alloc_pages_noprof',
    ]);
  }
}

/** A fail_page_alloc that never fails (allocators built without one). */
export function disarmedFailPageAlloc(): FailPageAlloc {
  return new FailPageAlloc({ rand: () => 0, log: () => undefined });
}
