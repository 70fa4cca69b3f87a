/**
 * memblock: the boot-time physical memory allocator (mm/memblock.c), as ranges, never pages.
 *
 * Two sorted region lists, `memory` (what RAM exists, with its node) and `reserved` (what is
 * taken). Adding a range inserts only the parts not already covered, then neighbours with the
 * same flags and node merge, as the kernel does, so region counts stay small. Allocation finds a
 * free range (memory minus reserved) top-down by default, optionally on a node, and reserves it
 * with `MEMBLOCK_RSRV_KERN` and the requested node id (counted by KHO's scratch_size_node()). In
 * KHO scratch-only mode (memblock_set_kho_scratch_only()) allocations only look at memory regions flagged
 * `MEMBLOCK_KHO_SCRATCH`. `freeAll()` hands every free range to the page allocator (`memblock_free_all()`).
 */
import { MmError, PHYS_ADDR_MAX, checkU, show } from './mm-error.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';

/** Region flags (include/linux/memblock.h). */
export const MEMBLOCK_NONE = 0;
export const MEMBLOCK_HOTPLUG = 0x1;
export const MEMBLOCK_MIRROR = 0x2;
export const MEMBLOCK_NOMAP = 0x4;
export const MEMBLOCK_DRIVER_MANAGED = 0x8;
export const MEMBLOCK_RSRV_NOINIT = 0x10;
export const MEMBLOCK_RSRV_KERN = 0x20;
export const MEMBLOCK_KHO_SCRATCH = 0x40;

/** "Any node" (`NUMA_NO_NODE`). Plain reservations also record it (the kernel's MAX_NUMNODES). */
export const NUMA_NO_NODE = -1;
/** `MEMBLOCK_ALLOC_ACCESSIBLE`: an `end` of 0 means "up to the current limit". */
export const MEMBLOCK_ALLOC_ACCESSIBLE = 0;
/** `MEMBLOCK_ALLOC_ANYWHERE`: no upper limit at all. */
export const MEMBLOCK_ALLOC_ANYWHERE = PHYS_ADDR_MAX;
/** `ARCH_LOW_ADDRESS_LIMIT` on x86-64 (the include/linux/memblock.h default): the lowmem bound, inclusive. */
export const ARCH_LOW_ADDRESS_LIMIT = 0xffff_ffff;
/** `SMP_CACHE_BYTES` on x86-64: the alignment used when a caller passes 0. */
export const SMP_CACHE_BYTES = 64;
/** `MAX_DMA_ADDRESS` as a physical address on x86-64: the low goal of memmap/percpu allocations. */
export const MAX_DMA_PHYS = 16 << 20;

const PAGE_SIZE = 4096;
const FLAG_NAMES = ['HOTPLUG', 'MIRROR', 'NOMAP', 'DRV_MNG', 'RSV_NIT', 'RSV_KERN', 'KHO_SCRATCH'];

/** One region: `[base, base + size)` with flags and node id. */
export interface MemblockRegion {
  base: number;
  size: number;
  flags: number;
  nid: number;
}

/** Which list an operation works on. */
export type MemblockTypeName = 'memory' | 'reserved';

/** Receives memory from {@link Memblock.freeAll}: the buddy allocator implements it. */
export interface MemblockFreeSink {
  /** Free pfns `[startPfn, endPfn)` into the page allocator (`__free_pages_memory`). */
  freeRange(startPfn: number, endPfn: number): void;
}

/** A free range found by iteration. */
export interface FreeRange {
  start: number;
  end: number;
  nid: number;
}

/** Optional collaborators of a {@link Memblock}. */
export interface MemblockOptions {
  /** Physical memory, to zero what the zeroing allocation APIs return. */
  mem?: PhysicalMemory | null;
  /** Where warnings go (the kernel's WARN/pr_warn lines); default: nowhere. */
  log?: (line: string) => void;
}

/** Round `x` down to a multiple of the power of two `a` (exact for any number below 2^53). */
function roundDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}

function roundUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

function isPow2(a: number): boolean {
  return a > 0 && Number.isInteger(Math.log2(a));
}

/**
 * A sorted, non-overlapping region list (`struct memblock_type`), stored as parallel typed
 * arrays (base, size, flags, node) as the kernel stores an array of structs: a KHO successor
 * reserves millions of preserved blocks, and one JS object per region would cost an allocation
 * (and boxed numbers) each.
 */
export class MemblockType {
  readonly name: MemblockTypeName;
  private bs = new Float64Array(16);
  private sz = new Float64Array(16);
  private fl = new Uint8Array(16);
  private nd = new Int16Array(16);
  private n = 0;

  constructor(name: MemblockTypeName) {
    this.name = name;
  }

  /** Number of regions. */
  get cnt(): number {
    return this.n;
  }

  /** The regions, ascending by base, as fresh objects (a copy: changing them changes nothing). */
  get regions(): MemblockRegion[] {
    const out: MemblockRegion[] = [];
    for (let i = 0; i < this.n; i++) out.push(this.region(i));
    return out;
  }

  /** Region `i` as a fresh object. */
  region(i: number): MemblockRegion {
    return { base: this.bs[i]!, size: this.sz[i]!, flags: this.fl[i]!, nid: this.nd[i]! };
  }

  /** Base of region `i`. */
  baseOf(i: number): number {
    return this.bs[i]!;
  }

  /** End (base + size) of region `i`. */
  endOf(i: number): number {
    return this.bs[i]! + this.sz[i]!;
  }

  /** Flags of region `i`. */
  flagsOf(i: number): number {
    return this.fl[i]!;
  }

  /** Node of region `i`. */
  nidOf(i: number): number {
    return this.nd[i]!;
  }

  /** Sum of region sizes in bytes. */
  get totalSize(): number {
    let t = 0;
    for (let i = 0; i < this.n; i++) t += this.sz[i]!;
    return t;
  }

  /** Index of the first region whose end is above `addr`. */
  firstEndingAfter(addr: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.bs[mid]! + this.sz[mid]! <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** True when some region overlaps `[base, base + size)`. */
  overlaps(base: number, size: number): boolean {
    const i = this.firstEndingAfter(base);
    return i < this.n && this.bs[i]! < base + size;
  }

  /** The region containing `addr` (a copy), or null. */
  find(addr: number): MemblockRegion | null {
    const i = this.firstEndingAfter(addr);
    return i < this.n && this.bs[i]! <= addr ? this.region(i) : null;
  }

  /** Room for at least `cap` regions (the arrays double), keeping the `n` there are. */
  private grow(cap: number): void {
    if (cap <= this.bs.length) return;
    const c = Math.max(cap, this.bs.length * 2);
    const bs = new Float64Array(c);
    const sz = new Float64Array(c);
    const fl = new Uint8Array(c);
    const nd = new Int16Array(c);
    bs.set(this.bs.subarray(0, this.n));
    sz.set(this.sz.subarray(0, this.n));
    fl.set(this.fl.subarray(0, this.n));
    nd.set(this.nd.subarray(0, this.n));
    this.bs = bs;
    this.sz = sz;
    this.fl = fl;
    this.nd = nd;
  }

  /** Replace regions `[at, at + remove)` by `items` (ascending, disjoint). */
  private splice(at: number, remove: number, items: readonly MemblockRegion[]): void {
    const delta = items.length - remove;
    if (delta > 0) this.grow(this.n + delta);
    if (delta !== 0) {
      const from = at + remove;
      this.bs.copyWithin(from + delta, from, this.n);
      this.sz.copyWithin(from + delta, from, this.n);
      this.fl.copyWithin(from + delta, from, this.n);
      this.nd.copyWithin(from + delta, from, this.n);
      this.n += delta;
    }
    for (let k = 0; k < items.length; k++)
      this.put(at + k, items[k]!.base, items[k]!.size, items[k]!.flags, items[k]!.nid);
  }

  private put(i: number, base: number, size: number, flags: number, nid: number): void {
    this.bs[i] = base;
    this.sz[i] = size;
    this.fl[i] = flags;
    this.nd[i] = nid;
  }

  /** `memblock_add_range`: insert the uncovered parts of `[base, e)`, then merge. */
  addRange(base: number, e: number, nid: number, flags: number): void {
    if (e <= base) return;
    const first = this.firstEndingAfter(base);
    const pieces: MemblockRegion[] = [];
    let cur = base;
    let i = first;
    for (; i < this.n; i++) {
      const rb = this.bs[i]!;
      if (rb >= e) break;
      if (rb > cur) pieces.push({ base: cur, size: rb - cur, flags, nid });
      pieces.push(this.region(i));
      cur = Math.max(cur, this.endOf(i));
    }
    if (cur < e) pieces.push({ base: cur, size: e - cur, flags, nid });
    this.splice(first, i - first, pieces);
    this.mergeAround(Math.max(0, first - 1), first + pieces.length + 1);
  }

  /** Split region `i` at `at` (inside it) into two regions with its flags and node. */
  private splitAt(i: number, at: number): void {
    const r = this.region(i);
    this.splice(i, 1, [
      { ...r, size: at - r.base },
      { ...r, base: at, size: r.base + r.size - at },
    ]);
  }

  /**
   * `memblock_isolate_range`: split regions so that `[base, e)` starts and ends on region
   * boundaries; returns the index range `[from, to)` of the regions inside.
   */
  isolate(base: number, e: number): [number, number] {
    let i = this.firstEndingAfter(base);
    if (i < this.n && this.bs[i]! < base && this.endOf(i) > base) {
      this.splitAt(i, base);
      i++;
    }
    const from = i;
    while (i < this.n && this.bs[i]! < e) {
      if (this.endOf(i) > e) {
        this.splitAt(i, e);
        i++;
        break;
      }
      i++;
    }
    return [from, i];
  }

  /** `memblock_remove_range`: drop `[base, e)` from the list. */
  removeRange(base: number, e: number): void {
    if (e <= base) return;
    const [from, to] = this.isolate(base, e);
    this.splice(from, to - from, []);
  }

  /** Set (`set = true`) or clear `flags` on `[base, e)`, splitting regions; then merge. */
  setClearFlags(base: number, e: number, flags: number, set: boolean): void {
    if (e <= base) return;
    const [from, to] = this.isolate(base, e);
    for (let i = from; i < to; i++) this.fl[i] = set ? this.fl[i]! | flags : this.fl[i]! & ~flags;
    this.mergeAround(Math.max(0, from - 1), to + 1);
  }

  /**
   * `memblock_add_range` of many sorted ranges `[starts[k], ends[k])`, each then flagged with
   * `setFlags` as `memblock_reserved_mark_noinit` does: new parts get `setFlags` and `nid`,
   * parts already in the list keep their flags and node and gain `setFlags`; neighbours merge.
   * The same list as calling `addRange` and `setClearFlags` per range in order, built in one
   * linear merge into fresh arrays instead of a splice per range (millions of KHO blocks in a
   * successor).
   */
  addRangesFlagged(
    starts: ArrayLike<number>,
    ends: ArrayLike<number>,
    n: number,
    nid: number,
    setFlags: number,
  ): void {
    const old = { bs: this.bs, sz: this.sz, fl: this.fl, nd: this.nd, n: this.n };
    // Usually one region per new range plus the old ones; append() grows the arrays if not.
    const cap = Math.max(16, n + old.n + 1);
    this.bs = new Float64Array(cap);
    this.sz = new Float64Array(cap);
    this.fl = new Uint8Array(cap);
    this.nd = new Int16Array(cap);
    this.n = 0;
    let i = 0;
    // The old region being consumed, possibly cut at its front: [rb, re) with its flags and node.
    let rb = i < old.n ? old.bs[0]! : 0;
    let re = i < old.n ? rb + old.sz[0]! : 0;
    const next = (): void => {
      i++;
      if (i < old.n) {
        rb = old.bs[i]!;
        re = rb + old.sz[i]!;
      }
    };
    for (let k = 0; k < n; k++) {
      const s = starts[k]!;
      const e = ends[k]!;
      if (e <= s) continue;
      while (i < old.n && re <= s) {
        this.append(rb, re, old.fl[i]!, old.nd[i]!);
        next();
      }
      if (i < old.n && rb < s) {
        this.append(rb, s, old.fl[i]!, old.nd[i]!);
        rb = s;
      }
      let cur = s;
      while (cur < e) {
        if (i < old.n && rb <= cur) {
          if (re <= e) {
            this.append(rb, re, old.fl[i]! | setFlags, old.nd[i]!);
            cur = re;
            next();
          } else {
            this.append(rb, e, old.fl[i]! | setFlags, old.nd[i]!);
            rb = e;
            cur = e;
          }
        } else {
          const gapEnd = i < old.n ? Math.min(e, rb) : e;
          this.append(cur, gapEnd, setFlags, nid);
          cur = gapEnd;
        }
      }
    }
    while (i < old.n) {
      this.append(rb, re, old.fl[i]!, old.nd[i]!);
      next();
    }
  }

  /** Appends `[b, e)` (after every region), merging with a touching last region of the same kind. */
  private append(b: number, e: number, flags: number, nid: number): void {
    const m = this.n;
    if (
      m > 0 &&
      this.bs[m - 1]! + this.sz[m - 1]! === b &&
      this.fl[m - 1] === flags &&
      this.nd[m - 1] === nid
    ) {
      this.sz[m - 1] = e - this.bs[m - 1]!;
      return;
    }
    if (m === this.bs.length) this.grow(m + 1);
    this.put(m, b, e - b, flags, nid);
    this.n = m + 1;
  }

  /** Set the node id of `[base, e)` (`memblock_set_node`). */
  setNode(base: number, e: number, nid: number): void {
    if (e <= base) return;
    const [from, to] = this.isolate(base, e);
    for (let i = from; i < to; i++) this.nd[i] = nid;
    this.mergeAround(Math.max(0, from - 1), to + 1);
  }

  /** `memblock_merge_regions` restricted to `[from, to)` (indices clamp). */
  private mergeAround(from: number, to: number): void {
    let i = from;
    let stop = Math.min(to, this.n);
    while (i + 1 < stop) {
      if (
        this.endOf(i) === this.bs[i + 1] &&
        this.fl[i] === this.fl[i + 1] &&
        this.nd[i] === this.nd[i + 1]
      ) {
        this.sz[i] = this.sz[i]! + this.sz[i + 1]!;
        this.splice(i + 1, 1, []);
        stop--;
      } else {
        i++;
      }
    }
  }
}

/** The boot-time allocator. */
export class Memblock {
  readonly memory = new MemblockType('memory');
  readonly reserved = new MemblockType('reserved');
  /** Allocation limit (`memblock.current_limit`), exclusive. */
  currentLimit: number = MEMBLOCK_ALLOC_ANYWHERE;
  /** Allocate bottom-up instead of top-down (`memblock_set_bottom_up`). */
  bottomUp = false;

  private scratchOnly = false;
  private released = false;
  private readonly mem: PhysicalMemory | null;
  private readonly log: (line: string) => void;

  constructor(opts: MemblockOptions = {}) {
    this.mem = opts.mem ?? null;
    this.log = opts.log ?? (() => undefined);
  }

  // ------------------------------------------------------------------ ranges

  private range(base: unknown, size: unknown): [number, number] {
    const b = checkU('base', base);
    const s = checkU('size', size, Number.MAX_SAFE_INTEGER);
    // memblock_cap_size(): a range running past the top is cut there.
    return [b, Math.min(b + s, PHYS_ADDR_MAX)];
  }

  private static flagsArg(flags: unknown): number {
    return checkU('flags', flags, 0x7f);
  }

  private static nidArg(nid: unknown): number {
    if (typeof nid !== 'number' || !Number.isInteger(nid) || nid < -1 || nid > 1023) {
      throw new MmError('EINVAL', `bad node id ${String(nid)}`);
    }
    return nid;
  }

  /** `memblock_add_node`: register RAM `[base, base+size)` on node `nid`. */
  add(base: number, size: number, nid: number = NUMA_NO_NODE, flags: number = MEMBLOCK_NONE): void {
    const [b, e] = this.range(base, size);
    this.memory.addRange(b, e, Memblock.nidArg(nid), Memblock.flagsArg(flags));
  }

  /** `memblock_remove`: forget RAM in the range. */
  remove(base: number, size: number): void {
    const [b, e] = this.range(base, size);
    this.memory.removeRange(b, e);
  }

  /** `memblock_reserve` (flags 0) or `__memblock_reserve` with flags and a node id. */
  reserve(base: number, size: number, flags: number = MEMBLOCK_NONE, nid: number = NUMA_NO_NODE): void {
    const [b, e] = this.range(base, size);
    this.reserved.addRange(b, e, Memblock.nidArg(nid), Memblock.flagsArg(flags));
  }

  /** `memblock_phys_free`: unreserve the range (it becomes allocatable again). */
  free(base: number, size: number): void {
    const [b, e] = this.range(base, size);
    this.reserved.removeRange(b, e);
  }

  /** Set `flags` on the range of `type` (splitting regions), e.g. `memblock_mark_kho_scratch`. */
  markFlags(type: MemblockTypeName, base: number, size: number, flags: number): void {
    const [b, e] = this.range(base, size);
    this[type].setClearFlags(b, e, Memblock.flagsArg(flags), true);
  }

  /** Clear `flags` on the range of `type`, e.g. `memblock_clear_kho_scratch`. */
  clearFlags(type: MemblockTypeName, base: number, size: number, flags: number): void {
    const [b, e] = this.range(base, size);
    this[type].setClearFlags(b, e, Memblock.flagsArg(flags), false);
  }

  /** `memblock_mark_kho_scratch`. */
  markKhoScratch(base: number, size: number): void {
    this.markFlags('memory', base, size, MEMBLOCK_KHO_SCRATCH);
  }

  /** `memblock_clear_kho_scratch`. */
  clearKhoScratch(base: number, size: number): void {
    this.clearFlags('memory', base, size, MEMBLOCK_KHO_SCRATCH);
  }

  /**
   * `memblock_reserve` + `memblock_reserved_mark_noinit` of many ranges, sorted by start and
   * disjoint (`ends[k] <= starts[k+1]`), in one pass: KHO's reservation of every preserved block.
   */
  reserveNoinitRanges(starts: ArrayLike<number>, ends: ArrayLike<number>, n: number): void {
    for (let k = 0; k < n; k++) {
      const b = starts[k]!;
      const e = ends[k]!;
      // The checks of range() without its result array (millions of ranges), for sane input.
      if (!(Number.isSafeInteger(b) && Number.isSafeInteger(e) && b >= 0 && e >= b && e <= PHYS_ADDR_MAX))
        this.range(b, e - b);
      if (k > 0 && b < ends[k - 1]!) throw new MmError('EINVAL', 'ranges must be sorted and disjoint');
    }
    this.reserved.addRangesFlagged(starts, ends, n, NUMA_NO_NODE, MEMBLOCK_RSRV_NOINIT);
  }

  /** `memblock_reserved_mark_noinit`: the struct pages of the range are not re-initialised. */
  reservedMarkNoinit(base: number, size: number): void {
    this.markFlags('reserved', base, size, MEMBLOCK_RSRV_NOINIT);
  }

  /** `memblock_set_node`: (re)assign the node of memory in the range. */
  setNode(base: number, size: number, nid: number): void {
    const [b, e] = this.range(base, size);
    this.memory.setNode(b, e, Memblock.nidArg(nid));
  }

  /** `memblock_set_kho_scratch_only`: allocations search scratch memory only (mm/memblock.c). */
  setKhoScratchOnly(): void {
    this.scratchOnly = true;
  }

  /** `memblock_clear_kho_scratch_only`. */
  clearKhoScratchOnly(): void {
    this.scratchOnly = false;
  }

  /** True while scratch-only mode is on. */
  get khoScratchOnly(): boolean {
    return this.scratchOnly;
  }

  /** True once {@link freeAll} has run: memblock no longer allocates. */
  get releasedToBuddy(): boolean {
    return this.released;
  }

  // ------------------------------------------------------------------ queries

  /** `memblock_is_memory`. */
  isMemory(addr: number): boolean {
    return this.memory.find(addr) !== null;
  }

  /** `memblock_is_reserved`. */
  isReserved(addr: number): boolean {
    return this.reserved.find(addr) !== null;
  }

  /** `memblock_is_region_reserved`: does any reservation overlap the range? */
  isRegionReserved(base: number, size: number): boolean {
    const [b, e] = this.range(base, size);
    return this.reserved.overlaps(b, e - b);
  }

  /** `memblock_phys_mem_size`. */
  physMemSize(): number {
    return this.memory.totalSize;
  }

  /** `memblock_reserved_size`. */
  reservedSize(): number {
    return this.reserved.totalSize;
  }

  /**
   * `memblock_reserved_kern_size(limit, nid)`: the K(limit, nid) statistic that
   * kernel/liveupdate/kexec_handover.c: scratch_size_node() sizes scratch from, bytes
   * of `RSRV_KERN` reservations below `limit` (a region straddling it counts up to it), only
   * those recorded with node `nid` unless `nid` is NUMA_NO_NODE.
   */
  reservedKernSize(limit: number = MEMBLOCK_ALLOC_ANYWHERE, nid: number = NUMA_NO_NODE): number {
    let total = 0;
    const res = this.reserved;
    for (let i = 0; i < res.cnt; i++) {
      const base = res.baseOf(i);
      if (base > limit) break;
      const size = Math.min(res.endOf(i), limit) - base;
      if ((nid < 0 || res.nidOf(i) === nid) && (res.flagsOf(i) & MEMBLOCK_RSRV_KERN) !== 0) total += size;
    }
    return total;
  }

  /** `should_skip_region`: is memory region `m` excluded for an iteration with nid/flags? */
  private skip(mi: number, nid: number, flags: number): boolean {
    const mNid = this.memory.nidOf(mi);
    const mFlags = this.memory.flagsOf(mi);
    if (nid >= 0 && nid !== mNid) return true;
    if ((flags & MEMBLOCK_MIRROR) !== 0 && (mFlags & MEMBLOCK_MIRROR) === 0) return true;
    if ((flags & MEMBLOCK_NOMAP) === 0 && (mFlags & MEMBLOCK_NOMAP) !== 0) return true;
    if ((flags & MEMBLOCK_DRIVER_MANAGED) === 0 && (mFlags & MEMBLOCK_DRIVER_MANAGED) !== 0) return true;
    if ((flags & MEMBLOCK_KHO_SCRATCH) !== 0 && (mFlags & MEMBLOCK_KHO_SCRATCH) === 0) return true;
    return false;
  }

  /**
   * `for_each_free_mem_range`: free ranges (memory minus reserved) in ascending order, of node
   * `nid` (NUMA_NO_NODE: all) among memory regions matching `flags` (MEMBLOCK_NONE: any except
   * NOMAP and DRIVER_MANAGED; KHO_SCRATCH: scratch only; MIRROR: mirrored only).
   */
  freeRanges(nid: number = NUMA_NO_NODE, flags: number = MEMBLOCK_NONE): FreeRange[] {
    const out: FreeRange[] = [];
    this.forEachFreeRange(nid, flags, (start, e, rnid) => {
      out.push({ start, end: e, nid: rnid });
    });
    return out;
  }

  /** {@link freeRanges} as a callback per range, without building the list. */
  forEachFreeRange(nid: number, flags: number, fn: (start: number, end: number, nid: number) => void): void {
    const res = this.reserved;
    const mem = this.memory;
    for (let mi = 0; mi < mem.cnt; mi++) {
      if (this.skip(mi, nid, flags)) continue;
      let cur = mem.baseOf(mi);
      const mEnd = mem.endOf(mi);
      const mNid = mem.nidOf(mi);
      for (let j = res.firstEndingAfter(cur); j < res.cnt && cur < mEnd; j++) {
        const rb = res.baseOf(j);
        if (rb >= mEnd) break;
        if (rb > cur) fn(cur, rb, mNid);
        cur = Math.max(cur, res.endOf(j));
      }
      if (cur < mEnd) fn(cur, mEnd, mNid);
    }
  }

  /** The flags allocations pass to the region iterator (`choose_memblock_flags`). */
  private allocFlags(): number {
    if (this.scratchOnly) return MEMBLOCK_KHO_SCRATCH;
    for (let mi = 0; mi < this.memory.cnt; mi++) {
      if ((this.memory.flagsOf(mi) & MEMBLOCK_MIRROR) !== 0) return MEMBLOCK_MIRROR;
    }
    return MEMBLOCK_NONE;
  }

  /**
   * `memblock_find_in_range_node`: the address of a free, `align`-aligned block of `size` bytes
   * in `[start, end)`, or 0. Top-down returns the highest candidate, bottom-up the lowest.
   */
  findInRangeNode(
    size: number,
    align: number,
    start: number,
    endAddr: number,
    nid: number,
    flags: number,
  ): number {
    let e = endAddr;
    if (e === MEMBLOCK_ALLOC_ACCESSIBLE) e = this.currentLimit;
    // Address 0 means failure, so the first page is never handed out.
    const s = Math.max(start, PAGE_SIZE);
    e = Math.max(s, e);
    if (this.bottomUp) {
      // Each free range is clamped into [s, e] (possibly to an empty range at an edge).
      for (const f of this.freeRanges(nid, flags)) {
        const a = Math.min(Math.max(f.start, s), e);
        const b = Math.min(Math.max(f.end, s), e);
        const cand = roundUp(a, align);
        if (cand < b && b - cand >= size) return cand;
      }
      return 0;
    }
    // Top-down walks the free gaps from the top without materialising the list.
    const mem = this.memory;
    const res = this.reserved;
    for (let mi = mem.cnt - 1; mi >= 0; mi--) {
      if (this.skip(mi, nid, flags)) continue;
      const mStart = mem.baseOf(mi);
      let hi = mem.endOf(mi);
      // Last reservation starting below the region's end.
      let j = res.firstEndingAfter(hi);
      if (j >= res.cnt || res.baseOf(j) >= hi) j--;
      for (;;) {
        const rEnd = j >= 0 ? res.endOf(j) : -1;
        const lo = j >= 0 && rEnd > mStart ? Math.max(rEnd, mStart) : mStart;
        if (lo < hi) {
          const a = Math.min(Math.max(lo, s), e);
          const b = Math.min(Math.max(hi, s), e);
          if (b >= size) {
            const cand = roundDown(b - size, align);
            if (cand >= a) return cand;
          }
        }
        if (j < 0 || rEnd <= mStart) break;
        hi = Math.min(hi, res.baseOf(j));
        if (hi <= mStart) break;
        j--;
      }
    }
    return 0;
  }

  private validateAlloc(size: unknown, align: unknown): [number, number] {
    const s = checkU('size', size);
    let a = checkU('align', align);
    if (a === 0) {
      this.log(`memblock: Align is 0, assuming SMP_CACHE_BYTES`);
      a = SMP_CACHE_BYTES;
    }
    if (!isPow2(a)) throw new MmError('EINVAL', `memblock: alignment ${show(a)} is not a power of two`);
    return [s, a];
  }

  /**
   * `memblock_alloc_range_nid`: find and reserve `size` bytes aligned to `align` in
   * `[start, end)` (end 0 = current limit), preferring node `nid`; falls back to any node unless
   * `exactNid`. The reservation gets `RSRV_KERN` and records `nid` as requested. Returns the
   * physical address, or 0 on failure. A zero size "succeeds" with an address and reserves
   * nothing (mm/memblock.c: memblock_alloc_range_nid()).
   */
  allocRange(
    size: number,
    align: number,
    start: number,
    endAddr: number,
    nid: number = NUMA_NO_NODE,
    exactNid = false,
  ): number {
    const [s, a] = this.validateAlloc(size, align);
    const st = checkU('start', start);
    const en = checkU('end', endAddr);
    Memblock.nidArg(nid);
    if (this.released) {
      this.log(`memblock: allocation of ${show(s)} bytes after memblock_free_all() refused`);
      return 0;
    }
    let flags = this.allocFlags();
    for (;;) {
      let found = this.findInRangeNode(s, a, st, en, nid, flags);
      if (found === 0 && nid >= 0 && !exactNid)
        found = this.findInRangeNode(s, a, st, en, NUMA_NO_NODE, flags);
      if (found !== 0) {
        if (s !== 0) this.reserved.addRange(found, found + s, nid, MEMBLOCK_RSRV_KERN);
        return found;
      }
      if ((flags & MEMBLOCK_MIRROR) !== 0) {
        flags &= ~MEMBLOCK_MIRROR;
        this.log(`memblock: Could not allocate ${show(s)} bytes of mirrored memory`);
        continue;
      }
      return 0;
    }
  }

  /** `memblock_phys_alloc_range(size, align, start, end)`: any node. */
  physAllocRange(size: number, align: number, start: number, endAddr: number): number {
    return this.allocRange(size, align, start, endAddr, NUMA_NO_NODE, false);
  }

  /** `memblock_phys_alloc(size, align)`: anywhere below the current limit, any node. */
  physAlloc(size: number, align: number): number {
    return this.allocRange(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE, false);
  }

  /** `memblock_phys_alloc_try_nid(size, align, nid)`. */
  physAllocTryNid(size: number, align: number, nid: number): number {
    return this.allocRange(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid, false);
  }

  /**
   * `memblock_alloc_internal`: the virtual-API allocator. Clamps `maxAddr` to the current
   * limit, retries without the lower bound, and zeroes the memory unless `raw`.
   */
  allocTryNid(
    size: number,
    align: number,
    minAddr: number,
    maxAddr: number,
    nid: number = NUMA_NO_NODE,
    opts: { exactNid?: boolean; raw?: boolean } = {},
  ): number {
    const exact = opts.exactNid ?? false;
    let max = maxAddr;
    if (max > this.currentLimit) max = this.currentLimit;
    let p = this.allocRange(size, align, minAddr, max, nid, exact);
    if (p === 0 && minAddr !== 0) p = this.allocRange(size, align, 0, max, nid, exact);
    if (p !== 0 && opts.raw !== true && this.mem !== null && size > 0) this.mem.fill(p, size, 0);
    return p;
  }

  /** `memblock_alloc(size, align)`: zeroed, any node. Returns the physical address or 0. */
  alloc(size: number, align: number): number {
    return this.allocTryNid(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE);
  }

  /** `memblock_alloc_raw(size, align)`: like {@link alloc} but not zeroed. */
  allocRaw(size: number, align: number): number {
    return this.allocTryNid(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE, { raw: true });
  }

  /** `memblock_alloc_node(size, align, nid)`: zeroed, node preferred. */
  allocNode(size: number, align: number, nid: number): number {
    return this.allocTryNid(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid);
  }

  /** `memblock_alloc_low(size, align)`: zeroed, below ARCH_LOW_ADDRESS_LIMIT. */
  allocLow(size: number, align: number): number {
    return this.allocTryNid(size, align, 0, ARCH_LOW_ADDRESS_LIMIT, NUMA_NO_NODE);
  }

  /** `memblock_alloc_exact_nid_raw`: on node `nid` only, not zeroed. */
  allocExactNidRaw(size: number, align: number, minAddr: number, maxAddr: number, nid: number): number {
    return this.allocTryNid(size, align, minAddr, maxAddr, nid, { exactNid: true, raw: true });
  }

  // ------------------------------------------------------------------ hand-over

  /**
   * `memblock_free_all()`: leave scratch-only mode, then free every free range (memory minus
   * reserved, NOMAP excluded) into the page allocator, whole pages only. Returns the number of
   * pages freed. Afterwards memblock refuses to allocate.
   */
  freeAll(buddy: MemblockFreeSink): number {
    this.clearKhoScratchOnly();
    let pages = 0;
    this.forEachFreeRange(NUMA_NO_NODE, MEMBLOCK_NONE, (start, fend) => {
      const s = Math.ceil(start / PAGE_SIZE);
      const e = Math.floor(fend / PAGE_SIZE);
      if (s >= e) return;
      buddy.freeRange(s, e);
      pages += e - s;
    });
    this.released = true;
    return pages;
  }

  // ------------------------------------------------------------------ debug

  /**
   * The text of `/sys/kernel/debug/memblock/{memory,reserved}`: one line per region,
   * `%4d: %pa..%pa %4d FLAG` (the node as `x` when none, the lowest flag's name or NONE).
   */
  debugfsShow(type: MemblockTypeName): string {
    let out = '';
    const t = this[type];
    for (let i = 0; i < t.cnt; i++) {
      const r = t.region(i);
      const last = r.base + r.size - 1;
      const nid = r.nid >= 0 ? String(r.nid).padStart(4) : '   x';
      let flag = 'NONE';
      if (r.flags !== 0) {
        const j = 31 - Math.clz32(r.flags & -r.flags);
        flag = FLAG_NAMES[j] ?? 'UNKNOWN';
      }
      out += `${String(i).padStart(4)}: 0x${r.base.toString(16).padStart(16, '0')}..0x${last
        .toString(16)
        .padStart(16, '0')} ${nid} ${flag}\n`;
    }
    return out;
  }

  /** A deep copy of both lists (for tests and debugging views). */
  snapshot(): { memory: MemblockRegion[]; reserved: MemblockRegion[] } {
    return {
      memory: this.memory.regions,
      reserved: this.reserved.regions,
    };
  }
}
