/**
 * failslab (mm/failslab.c): fault injection into slab allocations. `should_failslab()` skips
 * __GFP_NOFAIL allocations and, while `ignore-gfp-wait` is Y (the default), every allocation
 * that may sleep (__GFP_DIRECT_RECLAIM, so GFP_KERNEL); __GFP_NOWARN suppresses the notice.
 * The size given to `should_fail_ex()` is the cache's object size: for kmalloc, the size class
 * the request rounds up to.
 *
 * The model's kernel objects are JavaScript objects, so nothing fails by itself: the code
 * that models a kernel `kzalloc()`/`kmalloc()` calls {@link kmalloc} at that point (LUO today,
 * docs/fault-injection.md) and fails with -ENOMEM where the kernel would get NULL. Not
 * modelled: `cache-filter` (the per-cache `/sys/kernel/slab/<cache>/failslab` switch).
 */
import { FAULT_NOWARN, FaultAttr, type FaultAttrDeps } from './fault-inject.ts';
import { ERRNO } from '../util/errno.ts';
import { __GFP_DIRECT_RECLAIM, __GFP_NOFAIL, __GFP_NOWARN } from './gfp.ts';

/** The failslab capability of one kernel (`failslab` in mm/failslab.c). */
export class Failslab {
  readonly attr: FaultAttr;
  /** `ignore-gfp-wait` (`ignore_gfp_reclaim`): leave allocations that may sleep alone. */
  ignoreGfpReclaim = true;

  constructor(deps: FaultAttrDeps) {
    this.attr = new FaultAttr('failslab', deps);
  }

  /** `should_failslab(s, gfp)`: -ENOMEM when the allocation must fail, else 0. */
  shouldFailslab(objectSize: number, gfp: number, trace: readonly string[] = []): number {
    if ((gfp & __GFP_NOFAIL) !== 0) return 0;
    if (this.ignoreGfpReclaim && (gfp & __GFP_DIRECT_RECLAIM) !== 0) return 0;
    const flags = (gfp & __GFP_NOWARN) !== 0 ? FAULT_NOWARN : 0;
    return this.attr.shouldFailEx(objectSize, flags, ['should_failslab', ...trace]) ? -ERRNO.ENOMEM : 0;
  }
}

/** A failslab that never fails (kernels and tests built without one). */
export function disarmedFailslab(): Failslab {
  return new Failslab({ rand: () => 0, log: () => undefined });
}

/** The kmalloc size classes of x86-64 (KMALLOC_MIN_SIZE 8, the 96 and 192 caches, up to 8 KiB). */
const KMALLOC_SIZES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

/** The object size of the kmalloc cache a `size`-byte request is served from (`kmalloc_size_roundup`). */
export function kmallocSizeClass(size: number): number {
  for (const s of KMALLOC_SIZES) if (size <= s) return s;
  return size;
}

/**
 * The failure point of a modelled `kmalloc(size, gfp)` / `kzalloc()` (mm/slub.c:
 * slab_pre_alloc_hook() → should_failslab()): true when the allocation succeeds, false when
 * the kernel's call would return NULL. `trace` names the calling kernel functions, innermost
 * first (`luo_session_alloc`, …), for the verbose notice's call trace.
 */
export function kmalloc(fs: Failslab, size: number, gfp: number, trace: readonly string[]): boolean {
  if (!fs.attr.armed) return true;
  return (
    fs.shouldFailslab(kmallocSizeClass(size), gfp, [
      'slab_pre_alloc_hook',
      '__kmalloc_cache_noprof',
      ...trace,
    ]) === 0
  );
}
