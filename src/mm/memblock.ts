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

function end(r: MemblockRegion): number {
  return r.base + r.size;
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

/** A sorted, non-overlapping region list (`struct memblock_type`). */
export class MemblockType {
  readonly name: MemblockTypeName;
  /** Regions, ascending by base; adjacent regions differ in flags or node (replaced by bulk updates). */
  regions: MemblockRegion[] = [];

  constructor(name: MemblockTypeName) {
    this.name = name;
  }

  /** Number of regions. */
  get cnt(): number {
    return this.regions.length;
  }

  /** Sum of region sizes in bytes. */
  get totalSize(): number {
    let t = 0;
    for (const r of this.regions) t += r.size;
    return t;
  }

  /** Index of the first region whose end is above `addr`. */
  firstEndingAfter(addr: number): number {
    const rs = this.regions;
    let lo = 0;
    let hi = rs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (end(rs[mid]!) <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** True when some region overlaps `[base, base + size)`. */
  overlaps(base: number, size: number): boolean {
    const i = this.firstEndingAfter(base);
    const r = this.regions[i];
    return r !== undefined && r.base < base + size;
  }

  /** The region containing `addr`, or null. */
  find(addr: number): MemblockRegion | null {
    const r = this.regions[this.firstEndingAfter(addr)];
    return r !== undefined && r.base <= addr ? r : null;
  }

  /** `memblock_add_range`: insert the uncovered parts of `[base, e)`, then merge. */
  addRange(base: number, e: number, nid: number, flags: number): void {
    if (e <= base) return;
    const rs = this.regions;
    const first = this.firstEndingAfter(base);
    const pieces: MemblockRegion[] = [];
    let cur = base;
    let i = first;
    for (; i < rs.length; i++) {
      const r = rs[i]!;
      if (r.base >= e) break;
      if (r.base > cur) pieces.push({ base: cur, size: r.base - cur, flags, nid });
      pieces.push(r);
      cur = Math.max(cur, end(r));
    }
    if (cur < e) pieces.push({ base: cur, size: e - cur, flags, nid });
    rs.splice(first, i - first, ...pieces);
    this.mergeAround(Math.max(0, first - 1), first + pieces.length + 1);
  }

  /**
   * `memblock_isolate_range`: split regions so that `[base, e)` starts and ends on region
   * boundaries; returns the index range `[from, to)` of the regions inside.
   */
  isolate(base: number, e: number): [number, number] {
    const rs = this.regions;
    let i = this.firstEndingAfter(base);
    const r0 = rs[i];
    if (r0 !== undefined && r0.base < base && end(r0) > base) {
      rs.splice(i, 1, { ...r0, size: base - r0.base }, { ...r0, base, size: end(r0) - base });
      i++;
    }
    const from = i;
    while (i < rs.length && rs[i]!.base < e) {
      const r = rs[i]!;
      if (end(r) > e) {
        rs.splice(i, 1, { ...r, size: e - r.base }, { ...r, base: e, size: end(r) - e });
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
    this.regions.splice(from, to - from);
  }

  /** Set (`set = true`) or clear `flags` on `[base, e)`, splitting regions; then merge. */
  setClearFlags(base: number, e: number, flags: number, set: boolean): void {
    if (e <= base) return;
    const [from, to] = this.isolate(base, e);
    for (let i = from; i < to; i++) {
      const r = this.regions[i]!;
      r.flags = set ? r.flags | flags : r.flags & ~flags;
    }
    this.mergeAround(Math.max(0, from - 1), to + 1);
  }

  /**
   * `memblock_add_range` of many sorted ranges `[starts[k], ends[k])`, each then flagged with
   * `setFlags` as `memblock_reserved_mark_noinit` does: new parts get `setFlags` and `nid`,
   * parts already in the list keep their flags and node and gain `setFlags`; neighbours merge.
   * The same list as calling `addRange` and `setClearFlags` per range in order, built in one
   * linear merge instead of a splice per range (millions of KHO blocks in a successor).
   */
  addRangesFlagged(
    starts: ArrayLike<number>,
    ends: ArrayLike<number>,
    n: number,
    nid: number,
    setFlags: number,
  ): void {
    const rs = this.regions;
    const out: MemblockRegion[] = [];
    let i = 0;
    let r: MemblockRegion | undefined = rs[0];
    const push = (x: MemblockRegion): void => {
      const last = out[out.length - 1];
      // The old list is replaced wholesale, so growing a region in place is safe.
      if (last !== undefined && end(last) === x.base && last.flags === x.flags && last.nid === x.nid) {
        last.size += x.size;
      } else out.push(x);
    };
    for (let k = 0; k < n; k++) {
      const s = starts[k]!;
      const e = ends[k]!;
      if (e <= s) continue;
      while (r !== undefined && end(r) <= s) {
        push(r);
        r = rs[++i];
      }
      if (r !== undefined && r.base < s) {
        push({ ...r, size: s - r.base });
        r = { ...r, base: s, size: end(r) - s };
      }
      let cur = s;
      while (cur < e) {
        if (r !== undefined && r.base <= cur) {
          const re = end(r);
          if (re <= e) {
            push({ ...r, flags: r.flags | setFlags });
            cur = re;
            r = rs[++i];
          } else {
            push({ ...r, size: e - r.base, flags: r.flags | setFlags });
            r = { ...r, base: e, size: re - e };
            cur = e;
          }
        } else {
          const gapEnd = r === undefined ? e : Math.min(e, r.base);
          push({ base: cur, size: gapEnd - cur, flags: setFlags, nid });
          cur = gapEnd;
        }
      }
    }
    while (r !== undefined) {
      push(r);
      r = rs[++i];
    }
    this.regions = out;
  }

  /** Set the node id of `[base, e)` (`memblock_set_node`). */
  setNode(base: number, e: number, nid: number): void {
    if (e <= base) return;
    const [from, to] = this.isolate(base, e);
    for (let i = from; i < to; i++) this.regions[i]!.nid = nid;
    this.mergeAround(Math.max(0, from - 1), to + 1);
  }

  /** `memblock_merge_regions` restricted to `[from, to)` (indices clamp). */
  private mergeAround(from: number, to: number): void {
    const rs = this.regions;
    let i = from;
    let stop = Math.min(to, rs.length);
    while (i + 1 < stop) {
      const a = rs[i]!;
      const b = rs[i + 1]!;
      if (end(a) === b.base && a.flags === b.flags && a.nid === b.nid) {
        a.size += b.size;
        rs.splice(i + 1, 1);
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
      this.range(starts[k], ends[k]! - starts[k]!);
      if (k > 0 && starts[k]! < ends[k - 1]!)
        throw new MmError('EINVAL', 'ranges must be sorted and disjoint');
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
    for (const r of this.reserved.regions) {
      if (r.base > limit) break;
      const size = end(r) > limit ? limit - r.base : r.size;
      if ((nid < 0 || r.nid === nid) && (r.flags & MEMBLOCK_RSRV_KERN) !== 0) total += size;
    }
    return total;
  }

  /** `should_skip_region`: is memory region `m` excluded for an iteration with nid/flags? */
  private skip(m: MemblockRegion, nid: number, flags: number): boolean {
    if (nid >= 0 && nid !== m.nid) return true;
    if ((flags & MEMBLOCK_MIRROR) !== 0 && (m.flags & MEMBLOCK_MIRROR) === 0) return true;
    if ((flags & MEMBLOCK_NOMAP) === 0 && (m.flags & MEMBLOCK_NOMAP) !== 0) return true;
    if ((flags & MEMBLOCK_DRIVER_MANAGED) === 0 && (m.flags & MEMBLOCK_DRIVER_MANAGED) !== 0) return true;
    if ((flags & MEMBLOCK_KHO_SCRATCH) !== 0 && (m.flags & MEMBLOCK_KHO_SCRATCH) === 0) return true;
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
    const res = this.reserved.regions;
    for (const m of this.memory.regions) {
      if (this.skip(m, nid, flags)) continue;
      let cur = m.base;
      const mEnd = end(m);
      for (let j = this.reserved.firstEndingAfter(cur); j < res.length && cur < mEnd; j++) {
        const r = res[j]!;
        if (r.base >= mEnd) break;
        if (r.base > cur) fn(cur, r.base, m.nid);
        cur = Math.max(cur, end(r));
      }
      if (cur < mEnd) fn(cur, mEnd, m.nid);
    }
  }

  /** The flags allocations pass to the region iterator (`choose_memblock_flags`). */
  private allocFlags(): number {
    if (this.scratchOnly) return MEMBLOCK_KHO_SCRATCH;
    for (const m of this.memory.regions) if ((m.flags & MEMBLOCK_MIRROR) !== 0) return MEMBLOCK_MIRROR;
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
    const mem = this.memory.regions;
    const res = this.reserved.regions;
    for (let mi = mem.length - 1; mi >= 0; mi--) {
      const m = mem[mi]!;
      if (this.skip(m, nid, flags)) continue;
      const mStart = m.base;
      let hi = end(m);
      // Last reservation starting below the region's end.
      let j = this.reserved.firstEndingAfter(hi);
      if (j >= res.length || res[j]!.base >= hi) j--;
      for (;;) {
        const r = j >= 0 ? res[j]! : undefined;
        const lo = r !== undefined && end(r) > mStart ? Math.max(end(r), mStart) : mStart;
        if (lo < hi) {
          const a = Math.min(Math.max(lo, s), e);
          const b = Math.min(Math.max(hi, s), e);
          if (b >= size) {
            const cand = roundDown(b - size, align);
            if (cand >= a) return cand;
          }
        }
        if (r === undefined || end(r) <= mStart) break;
        hi = Math.min(hi, r.base);
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
    this[type].regions.forEach((r, i) => {
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
    });
    return out;
  }

  /** A deep copy of both lists (for tests and debugging views). */
  snapshot(): { memory: MemblockRegion[]; reserved: MemblockRegion[] } {
    return {
      memory: this.memory.regions.map((r) => ({ ...r })),
      reserved: this.reserved.regions.map((r) => ({ ...r })),
    };
  }
}
