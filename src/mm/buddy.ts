/**
 * The buddy page allocator (mm/page_alloc.c) with migratetypes and CMA pageblocks.
 *
 * One zone per NUMA node (the kernel would split a node into DMA/DMA32/Normal; KHO never cares,
 * see docs/mm.md). A zone's free areas are one {@link FreeBitmap} per (order, migratetype),
 * indexed by block number inside the zone's span; a free block's migratetype is always its
 * pageblock's (as in v6.10+ kernels), so "is my buddy free" is one bit test. Free lists hand
 * out the lowest address first (the kernel's lists are LIFO; documented deviation).
 *
 * Allocation: preferred node, then the other nodes (unless __GFP_THISNODE); inside a zone the
 * smallest block of the wanted type, then (movable only) CMA, then claiming or stealing from a
 * fallback type. Unmovable and reclaimable allocations never touch CMA pageblocks, which is
 * what keeps KHO-preservable memory out of scratch (kernel/liveupdate/kexec_handover.c: kho_init()).
 *
 * Allocated blocks record refcount/order in {@link PageMeta}; reserved pages are the RAM pages
 * that are neither free nor referenced (the model has no PG_reserved bit per page).
 */
import { disarmedFailPageAlloc, type FailPageAlloc } from './fail-page-alloc.ts';
import { FreeBitmap } from './free-bitmap.ts';
import { __GFP_COMP, __GFP_NOWARN, __GFP_THISNODE, __GFP_ZERO, gfpMigratetype } from './gfp.ts';
import { MmError, checkU, show } from './mm-error.ts';
import { PG_HEAD, PageMeta } from './page-meta.ts';
import {
  MIGRATE_CMA,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_TYPES,
  MIGRATE_UNMOVABLE,
  NodePageblocks,
  PAGEBLOCK_NR_PAGES,
  PAGEBLOCK_ORDER,
  migratetypeIsMergeable,
} from './pageblock.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import { MAX_NODE_SPAN } from '../hw/topology.ts';

/** Largest buddy order (`MAX_PAGE_ORDER`): 4 MiB blocks. */
export const MAX_PAGE_ORDER = 10;
/** `NR_PAGE_ORDERS`. */
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
/** Pages per memory section (128 MiB, SECTION_SIZE_BITS 27): the pfn_valid granularity. */
export const PAGES_PER_SECTION = 1 << 15;

const PAGE_SIZE = 4096;
const MAX_ORDER_PAGES = 1 << MAX_PAGE_ORDER;
const NT = MIGRATE_TYPES;
/** Zones span at most 2^32 pages (16 TiB per node) so block indices stay 32-bit. */
const MAX_ZONE_PAGES = MAX_NODE_SPAN / PAGE_SIZE;

/** Kernel fallback order per starting type (`fallbacks[]`); CMA is never a fallback. */
const FALLBACKS: readonly (readonly number[])[] = [
  [MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE],
  [MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE],
  [MIGRATE_UNMOVABLE, MIGRATE_MOVABLE],
];

/** RAM as pfn ranges with their node. */
export interface PfnRange {
  startPfn: number;
  endPfn: number;
  nid: number;
}

/** Options for {@link Buddy}. */
export interface BuddyOptions {
  /** Physical memory, for __GFP_ZERO (zeroing is a cheap discard of the pages). */
  mem?: PhysicalMemory | null;
  /** Per-page metadata shared with the rest of the kernel (a new one by default). */
  meta?: PageMeta;
  /** Node allocations prefer when none is given (`numa_node_id()`); default: lowest node. */
  localNid?: number;
  /** Where warnings go (allocation failures, bad frees). */
  log?: (line: string) => void;
  /** The kernel's fail_page_alloc (mm/fail_page_alloc.c); default: one that never fails. */
  failPageAlloc?: FailPageAlloc;
}

/** /proc/meminfo-style figures, in kB. */
export interface Meminfo {
  MemTotal: number;
  MemFree: number;
  CmaTotal: number;
  CmaFree: number;
}

/** A zone: one per node. */
class Zone {
  readonly nid: number;
  /** Span `[startPfn, endPfn)` of the node's RAM. */
  readonly startPfn: number;
  readonly endPfn: number;
  /** Span start aligned down to MAX_ORDER pages: block indices are relative to it. */
  readonly base: number;
  /** Aligned span length in pages. */
  readonly size: number;
  readonly pb: NodePageblocks;
  readonly free: (FreeBitmap | undefined)[] = new Array<FreeBitmap | undefined>(NR_PAGE_ORDERS * NT).fill(
    undefined,
  );
  /** Free blocks per (order, type). */
  readonly nrBlocks = new Float64Array(NR_PAGE_ORDERS * NT);
  /** Free pages per type. */
  readonly nrFree = new Float64Array(NT);
  freePages = 0;
  managed = 0;
  cmaManaged = 0;
  present = 0;

  constructor(nid: number, startPfn: number, endPfn: number) {
    this.nid = nid;
    this.startPfn = startPfn;
    this.endPfn = endPfn;
    this.base = Math.floor(startPfn / MAX_ORDER_PAGES) * MAX_ORDER_PAGES;
    this.size = Math.ceil(endPfn / MAX_ORDER_PAGES) * MAX_ORDER_PAGES - this.base;
    if (this.size > MAX_ZONE_PAGES) {
      throw new MmError('EINVAL', `node ${nid} spans more than 16 TiB, which the model does not support`);
    }
    this.pb = new NodePageblocks(this.base, this.base + this.size);
  }
}

/** 2^o for o in 0..40 (no `2 ** k` on hot paths). */
const POW2 = Float64Array.from({ length: 41 }, (_, i) => 2 ** i);

/** The page allocator. */
export class Buddy {
  /** Per-page metadata (refcount, order, private). */
  readonly meta: PageMeta;
  private readonly zones: Zone[] = [];
  private readonly zoneByNid = new Map<number, Zone>();
  /** Zones indexed by node id (hot-path lookup). */
  private readonly zoneArr: (Zone | undefined)[] = [];
  private readonly rStart: Float64Array;
  private readonly rEnd: Float64Array;
  private readonly rZone: Zone[];
  private readonly secStart: Float64Array;
  private readonly secEnd: Float64Array;
  private lastRange = 0;
  private readonly mem: PhysicalMemory | null;
  private readonly log: (line: string) => void;
  /** Node used when an allocation names none. */
  localNid: number;
  /** Fault injection (`should_fail_alloc_page`): one field test per allocation while disarmed. */
  readonly failPageAlloc: FailPageAlloc;

  /** Build zones from RAM pfn ranges (ascending, non-overlapping). */
  constructor(ranges: readonly PfnRange[], opts: BuddyOptions = {}) {
    this.meta = opts.meta ?? new PageMeta();
    this.mem = opts.mem ?? null;
    this.log = opts.log ?? (() => undefined);
    this.failPageAlloc = opts.failPageAlloc ?? disarmedFailPageAlloc();
    const sorted = [...ranges].filter((r) => r.endPfn > r.startPfn).sort((a, b) => a.startPfn - b.startPfn);
    const spans = new Map<number, { s: number; e: number; present: number }>();
    for (let i = 0; i < sorted.length; i++) {
      const r = sorted[i]!;
      checkU('startPfn', r.startPfn, 2 ** 40);
      checkU('endPfn', r.endPfn, 2 ** 40);
      if (i > 0 && r.startPfn < sorted[i - 1]!.endPfn) throw new MmError('EINVAL', 'overlapping RAM ranges');
      const sp = spans.get(r.nid);
      if (sp === undefined) spans.set(r.nid, { s: r.startPfn, e: r.endPfn, present: r.endPfn - r.startPfn });
      else {
        sp.e = Math.max(sp.e, r.endPfn);
        sp.present += r.endPfn - r.startPfn;
      }
    }
    for (const nid of [...spans.keys()].sort((a, b) => a - b)) {
      const sp = spans.get(nid)!;
      const z = new Zone(nid, sp.s, sp.e);
      z.present = sp.present;
      this.zones.push(z);
      this.zoneByNid.set(nid, z);
      if (nid >= 0 && nid < 1024) this.zoneArr[nid] = z;
    }
    this.rStart = Float64Array.from(sorted, (r) => r.startPfn);
    this.rEnd = Float64Array.from(sorted, (r) => r.endPfn);
    this.rZone = sorted.map((r) => this.zoneByNid.get(r.nid)!);
    // pfn_valid() is true for every pfn of a present section, holes included.
    const secs: [number, number][] = [];
    for (const r of sorted) {
      const a = Math.floor(r.startPfn / PAGES_PER_SECTION) * PAGES_PER_SECTION;
      const b = Math.ceil(r.endPfn / PAGES_PER_SECTION) * PAGES_PER_SECTION;
      const last = secs[secs.length - 1];
      if (last !== undefined && a <= last[1]) last[1] = Math.max(last[1], b);
      else secs.push([a, b]);
    }
    this.secStart = Float64Array.from(secs, (s) => s[0]);
    this.secEnd = Float64Array.from(secs, (s) => s[1]);
    this.localNid = opts.localNid ?? this.zones[0]?.nid ?? 0;
  }

  /** Build from byte ranges such as `Topology.ramRanges()` (partial pages are dropped). */
  static fromRamRanges(
    ranges: readonly { start: number; end: number; nid: number }[],
    opts: BuddyOptions = {},
  ): Buddy {
    return new Buddy(
      ranges.map((r) => ({
        startPfn: Math.ceil(r.start / PAGE_SIZE),
        endPfn: Math.floor(r.end / PAGE_SIZE),
        nid: r.nid,
      })),
      opts,
    );
  }

  /** Node ids that have a zone, ascending. */
  get nids(): number[] {
    return this.zones.map((z) => z.nid);
  }

  // ------------------------------------------------------------------ lookups

  /** Index of the RAM range containing `pfn`, or -1. */
  private rangeOf(pfn: number): number {
    const l = this.lastRange;
    if (pfn >= this.rStart[l]! && pfn < this.rEnd[l]!) return l;
    let lo = 0;
    let hi = this.rStart.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rEnd[mid]! <= pfn) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.rStart.length && pfn >= this.rStart[lo]!) {
      this.lastRange = lo;
      return lo;
    }
    return -1;
  }

  private zoneOfPfn(pfn: number): Zone | null {
    const i = this.rangeOf(pfn);
    return i < 0 ? null : this.rZone[i]!;
  }

  /** True when `pfn` is RAM known to the allocator. */
  isRam(pfn: number): boolean {
    return this.rangeOf(pfn) >= 0;
  }

  /** Node of a RAM pfn, or -1. */
  nidOf(pfn: number): number {
    return this.zoneOfPfn(pfn)?.nid ?? -1;
  }

  /** `pfn_valid`: the pfn has a `struct page` (its 128 MiB section has RAM). */
  pfnValid(pfn: number): boolean {
    if (typeof pfn !== 'number' || !Number.isInteger(pfn) || pfn < 0) return false;
    let lo = 0;
    let hi = this.secStart.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.secEnd[mid]! <= pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.secStart.length && pfn >= this.secStart[lo]!;
  }

  /** `pfn_to_online_page() != NULL`: valid and online (no memory hotplug in the model). */
  pfnOnline(pfn: number): boolean {
    return this.pfnValid(pfn);
  }

  /** `get_pageblock_migratetype`, or -1 outside every zone span. */
  migratetype(pfn: number): number {
    for (const z of this.zones) if (z.pb.covers(pfn)) return z.pb.get(pfn);
    return -1;
  }

  /**
   * `set_pageblock_migratetype` for the pageblock of `pfn`. Meant for boot (before its pages
   * are handed to the allocator, as `kho_release_scratch` does); EBUSY when the pageblock
   * already has free pages, whose free-list type would then be wrong.
   */
  setMigratetype(pfn: number, mt: number): void {
    const z = this.zoneOfPfn(pfn) ?? this.zones.find((x) => x.pb.covers(pfn));
    if (z === undefined) throw new MmError('EINVAL', `pfn ${show(pfn)} is in no zone`);
    const start = Math.floor(pfn / PAGEBLOCK_NR_PAGES) * PAGEBLOCK_NR_PAGES;
    if (this.firstFreeIn(z, start, start + PAGEBLOCK_NR_PAGES) >= 0) {
      throw new MmError('EBUSY', `pageblock at pfn ${show(start)} has free pages`);
    }
    z.pb.set(start, mt);
  }

  // ------------------------------------------------------------------ free areas

  private bitmap(z: Zone, o: number, mt: number): FreeBitmap {
    const k = o * NT + mt;
    let b = z.free[k];
    if (b === undefined) {
      b = new FreeBitmap(z.size / POW2[o]!);
      z.free[k] = b;
    }
    return b;
  }

  private addFree(z: Zone, rel: number, o: number, mt: number): void {
    this.bitmap(z, o, mt).set(rel >>> o);
    z.nrBlocks[o * NT + mt]!++;
    const n = 1 << o;
    z.nrFree[mt]! += n;
    z.freePages += n;
  }

  private delFree(z: Zone, rel: number, o: number, mt: number): void {
    z.free[o * NT + mt]!.clear(rel >>> o);
    z.nrBlocks[o * NT + mt]!--;
    const n = 1 << o;
    z.nrFree[mt]! -= n;
    z.freePages -= n;
  }

  private isFreeBlock(z: Zone, rel: number, o: number, mt: number): boolean {
    const b = z.free[o * NT + mt];
    return b !== undefined && b.test(rel >>> o);
  }

  /** `__free_one_page`: insert a block and merge with free buddies. `rel` is zone-relative. */
  private freeOne(z: Zone, relIn: number, orderIn: number): void {
    let rel = relIn;
    let order = orderIn;
    if (order > PAGEBLOCK_ORDER) {
      // split_large_buddy(): free per pageblock so each part lands on its own type's list.
      const mt0 = z.pb.types[rel >>> PAGEBLOCK_ORDER]!;
      let same = true;
      const nb = POW2[order - PAGEBLOCK_ORDER]!;
      for (let i = 1; i < nb; i++) if (z.pb.types[(rel >>> PAGEBLOCK_ORDER) + i] !== mt0) same = false;
      if (!same || order > MAX_PAGE_ORDER) {
        for (let i = 0; i < nb; i++) this.freeOne(z, rel + i * PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER);
        return;
      }
    }
    const mt = z.pb.types[rel >>> PAGEBLOCK_ORDER]!;
    while (order < MAX_PAGE_ORDER) {
      const brel = (rel ^ (1 << order)) >>> 0;
      if (brel >= z.size) break;
      let bmt = mt;
      if (order >= PAGEBLOCK_ORDER) {
        bmt = z.pb.types[brel >>> PAGEBLOCK_ORDER]!;
        if (bmt !== mt && !(migratetypeIsMergeable(mt) && migratetypeIsMergeable(bmt))) break;
      }
      if (!this.isFreeBlock(z, brel, order, bmt)) break;
      this.delFree(z, brel, order, bmt);
      if (bmt !== mt) z.pb.types[brel >>> PAGEBLOCK_ORDER] = mt;
      rel = (rel & brel) >>> 0;
      order++;
    }
    this.addFree(z, rel, order, mt);
  }

  /** `expand`: split a block of order `high` down to `low`, freeing the upper halves. */
  private expand(z: Zone, rel: number, low: number, high: number): void {
    for (let h = high - 1; h >= low; h--) {
      const half = rel + (1 << h);
      this.addFree(z, half, h, z.pb.types[half >>> PAGEBLOCK_ORDER]!);
    }
  }

  /** `__rmqueue_smallest`: returns the zone-relative pfn, or -1. */
  private takeSmallest(z: Zone, order: number, mt: number): number {
    for (let o = order; o <= MAX_PAGE_ORDER; o++) {
      if (z.nrBlocks[o * NT + mt] === 0) continue;
      const rel = (z.free[o * NT + mt]!.findFirst() << o) >>> 0;
      this.delFree(z, rel, o, mt);
      this.expand(z, rel, order, o);
      return rel;
    }
    return -1;
  }

  /** Move every free block inside the pageblock at `pbRel` from type `from` to `to`; returns pages. */
  private movePageblock(z: Zone, pbRel: number, from: number, to: number, dryRun: boolean): number {
    let pages = 0;
    for (let o = 0; o < PAGEBLOCK_ORDER; o++) {
      const b = z.free[o * NT + from];
      if (b === undefined || z.nrBlocks[o * NT + from] === 0) continue;
      const lo = pbRel / POW2[o]!;
      const hi = lo + PAGEBLOCK_NR_PAGES / POW2[o]!;
      for (let i = b.nextSet(lo, hi); i >= 0; i = b.nextSet(i + 1, hi)) {
        pages += POW2[o]!;
        if (!dryRun) {
          this.delFree(z, i * POW2[o]!, o, from);
          this.addFree(z, i * POW2[o]!, o, to);
        }
      }
    }
    if (!dryRun) z.pb.types[pbRel >>> PAGEBLOCK_ORDER] = to;
    return pages;
  }

  /** `__rmqueue_claim` then `__rmqueue_steal`: take from a fallback type. */
  private takeFallback(z: Zone, order: number, mt: number): number {
    const fb = FALLBACKS[mt]!;
    const claimAny = mt === MIGRATE_UNMOVABLE || mt === MIGRATE_RECLAIMABLE;
    for (let co = MAX_PAGE_ORDER; co >= order; co--) {
      if (!(co >= PAGEBLOCK_ORDER >> 1 || claimAny)) break;
      for (const f of fb) {
        if (z.nrBlocks[co * NT + f] === 0) continue;
        const rel = z.free[co * NT + f]!.findFirst() * POW2[co]!;
        if (co >= PAGEBLOCK_ORDER) {
          // A whole free pageblock (or two): claim it outright.
          this.delFree(z, rel, co, f);
          const nb = POW2[co - PAGEBLOCK_ORDER]!;
          for (let i = 0; i < nb; i++) z.pb.types[(rel >>> PAGEBLOCK_ORDER) + i] = mt;
          this.expand(z, rel, order, co);
          return rel;
        }
        const pbRel = rel - (rel & (PAGEBLOCK_NR_PAGES - 1));
        // try_to_claim_block(): claim the pageblock when at least half of it is free.
        if (this.movePageblock(z, pbRel, f, mt, true) >= PAGEBLOCK_NR_PAGES >> 1) {
          this.movePageblock(z, pbRel, f, mt, false);
          this.delFree(z, rel, co, mt);
          this.expand(z, rel, order, co);
          return rel;
        }
      }
    }
    for (let co = order; co <= MAX_PAGE_ORDER; co++) {
      for (const f of fb) {
        if (z.nrBlocks[co * NT + f] === 0) continue;
        const rel = z.free[co * NT + f]!.findFirst() * POW2[co]!;
        this.delFree(z, rel, co, f);
        this.expand(z, rel, order, co);
        return rel;
      }
    }
    return -1;
  }

  /** `__rmqueue`: one zone. */
  private rmqueue(z: Zone, order: number, mt: number): number {
    const cma = mt === MIGRATE_MOVABLE;
    // Balance movable allocations: use CMA first when it holds over half of the free memory.
    if (cma && z.nrFree[MIGRATE_CMA]! > z.freePages / 2) {
      const r = this.takeSmallest(z, order, MIGRATE_CMA);
      if (r >= 0) return r;
    }
    let r = this.takeSmallest(z, order, mt);
    if (r >= 0) return r;
    if (cma) {
      r = this.takeSmallest(z, order, MIGRATE_CMA);
      if (r >= 0) return r;
    }
    return this.takeFallback(z, order, mt);
  }

  // ------------------------------------------------------------------ allocation API

  /**
   * `alloc_pages_node(nid, gfp, order)`: returns the first pfn of a naturally aligned block of
   * 2^order pages, or null. `nid` -1 means the local node. __GFP_THISNODE forbids other nodes;
   * __GFP_ZERO zeroes the pages; __GFP_COMP makes a compound page (folio).
   */
  alloc(order: number, gfp: number, nid = -1): number | null {
    if (!Number.isInteger(order) || order < 0 || order > MAX_PAGE_ORDER) {
      this.log(`WARNING: alloc_pages with order ${String(order)} > MAX_PAGE_ORDER`);
      return null;
    }
    // prepare_alloc_pages(): an injected failure returns NULL before any zone is tried, so
    // without the allocation-failure warning.
    if (this.failPageAlloc.attr.armed && this.failPageAlloc.shouldFailAllocPage(gfp, order)) return null;
    const mt = gfpMigratetype(gfp);
    const pref = nid < 0 ? this.localNid : nid;
    const first = this.zoneArr[pref];
    let rel = -1;
    let zone: Zone | undefined;
    if (first !== undefined) {
      rel = this.rmqueue(first, order, mt);
      zone = first;
    }
    if (rel < 0 && (gfp & __GFP_THISNODE) === 0) {
      for (const z of this.zones) {
        if (z === first) continue;
        rel = this.rmqueue(z, order, mt);
        if (rel >= 0) {
          zone = z;
          break;
        }
      }
    }
    if (rel < 0 || zone === undefined) {
      if ((gfp & __GFP_NOWARN) === 0) {
        this.log(`page allocation failure: order:${order}, mode:${show(gfp)}, nid=${pref}`);
      }
      return null;
    }
    const pfn = zone.base + rel;
    const m = this.meta;
    m.setRefcount(pfn, 1);
    m.setOrder(pfn, order);
    if ((gfp & __GFP_COMP) !== 0 && order > 0) m.setFlags(pfn, PG_HEAD);
    if ((gfp & __GFP_ZERO) !== 0 && this.mem !== null)
      this.mem.fill(pfn * PAGE_SIZE, PAGE_SIZE * POW2[order]!, 0);
    return pfn;
  }

  /** `folio_alloc_node`: a compound allocation (refcount 1 on the head). */
  allocFolio(order: number, gfp: number, nid = -1): number | null {
    return this.alloc(order, gfp | __GFP_COMP, nid);
  }

  /** The number of pages to free for the page at `pfn` and check its state. */
  private checkFree(pfn: number): Zone {
    const z = typeof pfn === 'number' && Number.isInteger(pfn) ? this.zoneOfPfn(pfn) : null;
    if (z === null) throw new MmError('EINVAL', `free of pfn ${show(pfn)}: not RAM managed by the allocator`);
    if (this.meta.refcount(pfn) <= 0) {
      throw new MmError('EINVAL', `free of pfn ${show(pfn)}: page not in use (refcount 0)`);
    }
    return z;
  }

  /**
   * `__free_pages(page, order)`: drop a reference; at zero the 2^order block returns to the
   * free lists (merging with free buddies).
   */
  freePages(pfn: number, order: number): void {
    const z = this.checkFree(pfn);
    if (!Number.isInteger(order) || order < 0 || order > 40)
      throw new MmError('EINVAL', `bad order ${String(order)}`);
    if (this.meta.putPage(pfn) > 0) return;
    this.releaseBlock(z, pfn, order);
  }

  /** `folio_put` / `put_page`: drop a reference on the folio containing `pfn`. */
  putPage(pfn: number): void {
    const head = this.meta.compoundHead(pfn);
    const p = head >= 0 ? head : pfn;
    const order = head >= 0 ? this.meta.order(head) : 0;
    const z = this.checkFree(p);
    if (this.meta.putPage(p) > 0) return;
    this.releaseBlock(z, p, order);
  }

  /** `folio_get` / `get_page`. */
  getPage(pfn: number): void {
    const head = this.meta.compoundHead(pfn);
    const p = head >= 0 ? head : pfn;
    if (this.meta.refcount(p) <= 0) throw new MmError('EINVAL', `get_page on free page ${show(p)}`);
    this.meta.getPage(p);
  }

  private releaseBlock(z: Zone, pfn: number, order: number): void {
    const n = POW2[order]!;
    if (n === 1) this.meta.clear(pfn);
    else this.meta.clearRange(pfn, pfn + n);
    if (order <= MAX_PAGE_ORDER && pfn + n <= z.base + z.size) {
      this.freeOne(z, pfn - z.base, order);
    } else {
      this.freeRangeIn(pfn, pfn + n, false);
    }
  }

  /** `split_page`: a non-compound block becomes 2^order independent pages, refcount 1 each. */
  splitPage(pfn: number, order: number): void {
    if (this.meta.refcount(pfn) <= 0 || (this.meta.flags(pfn) & PG_HEAD) !== 0) {
      throw new MmError('EINVAL', `split_page of pfn ${show(pfn)}: not a non-compound allocated page`);
    }
    this.meta.setOrder(pfn, 0);
    const n = POW2[order]!;
    for (let i = 1; i < n; i++) this.meta.setRefcount(pfn + i, 1);
  }

  // ------------------------------------------------------------------ boot-time freeing

  /** Decompose `[s, e)` (pfns of one zone) into maximal aligned blocks and free them. */
  private freeSpan(z: Zone, s: number, e: number): void {
    let rel = s - z.base;
    const end = e - z.base;
    const types = z.pb.types;
    while (rel < end) {
      if ((rel & (MAX_ORDER_PAGES - 1)) === 0 && end - rel >= MAX_ORDER_PAGES) {
        // A run of MAX_ORDER blocks whose pageblocks share one type: set them in bulk (they
        // cannot merge further, so this equals freeing them one by one).
        const pb = rel >>> PAGEBLOCK_ORDER;
        const mt = types[pb]!;
        let k = 0;
        while (
          rel + (k + 1) * MAX_ORDER_PAGES <= end &&
          types[pb + 2 * k] === mt &&
          types[pb + 2 * k + 1] === mt
        )
          k++;
        if (k > 0) {
          const added = this.bitmap(z, MAX_PAGE_ORDER, mt).setRun(rel / MAX_ORDER_PAGES, k);
          z.nrBlocks[MAX_PAGE_ORDER * NT + mt]! += added;
          z.nrFree[mt]! += added * MAX_ORDER_PAGES;
          z.freePages += added * MAX_ORDER_PAGES;
          rel += k * MAX_ORDER_PAGES;
          continue;
        }
      }
      let order = rel === 0 ? MAX_PAGE_ORDER : Math.min(MAX_PAGE_ORDER, 31 - Math.clz32(rel & -rel));
      while (rel + POW2[order]! > end) order--;
      this.freeOne(z, rel, order);
      rel += POW2[order]!;
    }
  }

  /** Pages of `[s, e)` that lie in CMA pageblocks. */
  private cmaPagesIn(z: Zone, s: number, e: number): number {
    let n = 0;
    let p = s;
    while (p < e) {
      const next = Math.min(e, (Math.floor(p / PAGEBLOCK_NR_PAGES) + 1) * PAGEBLOCK_NR_PAGES);
      if (z.pb.get(p) === MIGRATE_CMA) n += next - p;
      p = next;
    }
    return n;
  }

  /** Free the RAM parts of `[s, e)`; `manage` adds them to the managed counts. Returns pages. */
  private freeRangeIn(s: number, e: number, manage: boolean): number {
    let total = 0;
    let i = this.rangeOf(s);
    if (i < 0) {
      // Start in a hole: find the first range above.
      i = 0;
      while (i < this.rStart.length && this.rEnd[i]! <= s) i++;
    }
    for (; i < this.rStart.length && this.rStart[i]! < e; i++) {
      const a = Math.max(s, this.rStart[i]!);
      const b = Math.min(e, this.rEnd[i]!);
      if (a >= b) continue;
      const z = this.rZone[i]!;
      this.meta.clearRange(a, b);
      this.freeSpan(z, a, b);
      if (manage) {
        z.managed += b - a;
        z.cmaManaged += this.cmaPagesIn(z, a, b);
      }
      total += b - a;
    }
    return total;
  }

  /**
   * `__free_pages_memory` as `memblock_free_all()` calls it: pages `[startPfn, endPfn)` join
   * the allocator (managed) and its free lists. Holes inside the range are skipped.
   */
  freeRange(startPfn: number, endPfn: number): void {
    checkU('startPfn', startPfn, 2 ** 40);
    checkU('endPfn', endPfn, 2 ** 40);
    this.freeRangeIn(startPfn, endPfn, true);
  }

  /** Lowest free pfn in `[s, e)` of zone `z`, or -1. */
  private firstFreeIn(z: Zone, s: number, e: number): number {
    if (this.isFree(s)) return s;
    let best = -1;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      const lo = Math.ceil((s - z.base) / POW2[o]!);
      const hi = Math.ceil((e - z.base) / POW2[o]!);
      for (let mt = 0; mt < NT; mt++) {
        const b = z.free[o * NT + mt];
        if (b === undefined || z.nrBlocks[o * NT + mt] === 0) continue;
        const i = b.nextSet(lo, hi);
        if (i >= 0) {
          const p = z.base + i * POW2[o]!;
          if (best < 0 || p < best) best = p;
        }
      }
    }
    return best;
  }

  /** EBUSY unless every page of `[s, e)` is reserved (neither free nor referenced). */
  private checkReserved(s: number, e: number, what: string): void {
    for (let i = 0; i < this.rStart.length; i++) {
      const a = Math.max(s, this.rStart[i]!);
      const b = Math.min(e, this.rEnd[i]!);
      if (a >= b) continue;
      const f = this.firstFreeIn(this.rZone[i]!, a, b);
      if (f >= 0) throw new MmError('EBUSY', `${what}: pfn ${show(f)} is already free`);
      const head = this.meta.compoundHead(a);
      const used = head >= 0 && this.meta.refcount(head) > 0 ? head : this.meta.firstReferenced(a, b);
      if (used >= 0) throw new MmError('EBUSY', `${what}: pfn ${show(used)} is in use`);
    }
  }

  /**
   * `init_cma_reserved_pageblock(page)` (called by KHO's kho_init()): the reserved pageblock at `pfn` becomes
   * MIGRATE_CMA, its pages join the allocator (managed, CMA) and are freed as one order-9 block.
   */
  initCmaReservedPageblock(pfn: number): void {
    checkU('pfn', pfn, 2 ** 40);
    if (Math.floor(pfn / PAGEBLOCK_NR_PAGES) * PAGEBLOCK_NR_PAGES !== pfn)
      throw new MmError('EINVAL', `pfn ${show(pfn)} is not pageblock aligned`);
    const z = this.zoneOfPfn(pfn) ?? this.zoneOfPfn(pfn + PAGEBLOCK_NR_PAGES - 1);
    if (z === null) throw new MmError('EINVAL', `pageblock at pfn ${show(pfn)} is not RAM`);
    const e = pfn + PAGEBLOCK_NR_PAGES;
    this.checkReserved(pfn, e, 'init_cma_reserved_pageblock');
    z.pb.set(pfn, MIGRATE_CMA);
    this.freeRangeIn(pfn, e, true);
  }

  /**
   * `free_reserved_area(start, end)`: reserved pages of the byte range (start rounded up, end
   * down to pages) join the allocator. EBUSY when part of it is free or in use already (the
   * kernel would corrupt its lists; the model refuses). Returns the number of pages freed.
   */
  freeReservedArea(start: number, end: number): number {
    checkU('start', start);
    checkU('end', end);
    const s = Math.ceil(start / PAGE_SIZE);
    const e = Math.floor(end / PAGE_SIZE);
    if (s >= e) return 0;
    this.checkReserved(s, e, 'free_reserved_area');
    return this.freeRangeIn(s, e, true);
  }

  /** `adjust_managed_page_count`: e.g. KHO restore adds restored pages to the managed count. */
  adjustManagedPageCount(pfn: number, count: number): void {
    const z = this.zoneOfPfn(pfn);
    if (z === null) throw new MmError('EINVAL', `pfn ${show(pfn)} is not RAM`);
    z.managed += count;
    if (z.pb.get(pfn) === MIGRATE_CMA) z.cmaManaged += count;
  }

  // ------------------------------------------------------------------ queries

  /** The free block containing `pfn` as `{ pfn, order }`, or null when the page is not free. */
  freeBlockOf(pfn: number): { pfn: number; order: number } | null {
    const z = this.zoneOfPfn(pfn);
    if (z === null) return null;
    const rel = pfn - z.base;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      const head = (rel >>> o) * POW2[o]!;
      if (this.isFreeBlock(z, head, o, z.pb.types[head >>> PAGEBLOCK_ORDER]!))
        return { pfn: z.base + head, order: o };
    }
    return null;
  }

  /** True when the page is in the allocator's free lists (`PageBuddy` or inside a free block). */
  isFree(pfn: number): boolean {
    return this.freeBlockOf(pfn) !== null;
  }

  /**
   * `PageReserved` as the model derives it: RAM with a struct page that is neither free nor
   * referenced (memblock-reserved at boot and never freed, or preserved by KHO).
   */
  isReserved(pfn: number): boolean {
    if (!this.isRam(pfn) || this.isFree(pfn)) return false;
    if (this.meta.refcount(pfn) > 0) return false;
    const head = this.meta.compoundHead(pfn);
    if (head >= 0 && this.meta.refcount(head) > 0) return false;
    // A tail of a non-compound high-order allocation: refcount lives on the block's first page.
    for (let o = 1; o <= MAX_PAGE_ORDER; o++) {
      const h = Math.floor(pfn / POW2[o]!) * POW2[o]!;
      if (h !== pfn && this.meta.refcount(h) > 0 && this.meta.order(h) >= o) return false;
    }
    return true;
  }

  /** Free pages in the whole machine (`NR_FREE_PAGES`). */
  get nrFreePages(): number {
    let n = 0;
    for (const z of this.zones) n += z.freePages;
    return n;
  }

  /** Pages managed by the allocator (`totalram_pages`). */
  get managedPages(): number {
    let n = 0;
    for (const z of this.zones) n += z.managed;
    return n;
  }

  private zonesOf(nid: number): Zone[] {
    if (nid < 0) return this.zones;
    const z = this.zoneByNid.get(nid);
    if (z === undefined) throw new MmError('EINVAL', `no node ${String(nid)}`);
    return [z];
  }

  /**
   * /proc/meminfo figures in kB (or /sys/devices/system/node/nodeN/meminfo with `nid`).
   * CmaTotal counts managed pages in CMA pageblocks (see docs/mm.md).
   */
  meminfo(nid = -1): Meminfo {
    let total = 0;
    let free = 0;
    let cma = 0;
    let cmaFree = 0;
    for (const z of this.zonesOf(nid)) {
      total += z.managed;
      free += z.freePages;
      cma += z.cmaManaged;
      cmaFree += z.nrFree[MIGRATE_CMA]!;
    }
    return { MemTotal: total * 4, MemFree: free * 4, CmaTotal: cma * 4, CmaFree: cmaFree * 4 };
  }

  /** Free pages of one migratetype (all nodes, or one). */
  freePagesOfType(mt: number, nid = -1): number {
    let n = 0;
    for (const z of this.zonesOf(nid)) n += z.nrFree[mt] ?? 0;
    return n;
  }

  /** Free block counts `[order][migratetype]` of a node (/proc/pagetypeinfo). */
  freeAreaCounts(nid: number): number[][] {
    const z = this.zonesOf(nid)[0]!;
    const out: number[][] = [];
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) out.push(Array.from(z.nrBlocks.subarray(o * NT, o * NT + NT)));
    return out;
  }

  /** The text of /proc/buddyinfo (one zone per node, named Normal). */
  buddyinfo(): string {
    let s = '';
    for (const z of this.zones) {
      let line = `Node ${z.nid}, zone   Normal`;
      for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
        let n = 0;
        for (let mt = 0; mt < NT; mt++) n += z.nrBlocks[o * NT + mt]!;
        line += ` ${String(n).padStart(6)}`;
      }
      s += `${line} \n`;
    }
    return s;
  }

  /** Per-node span and counters (pages). */
  zoneInfo(): {
    nid: number;
    startPfn: number;
    endPfn: number;
    present: number;
    managed: number;
    free: number;
    cmaManaged: number;
  }[] {
    return this.zones.map((z) => ({
      nid: z.nid,
      startPfn: z.startPfn,
      endPfn: z.endPfn,
      present: z.present,
      managed: z.managed,
      free: z.freePages,
      cmaManaged: z.cmaManaged,
    }));
  }

  /** Every free block `{ pfn, order, mt }` ascending by pfn (tests; may be large). */
  listFreeBlocks(nid = -1): { pfn: number; order: number; mt: number }[] {
    const out: { pfn: number; order: number; mt: number }[] = [];
    for (const z of this.zonesOf(nid)) {
      for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
        for (let mt = 0; mt < NT; mt++) {
          const b = z.free[o * NT + mt];
          if (b === undefined) continue;
          for (const i of b.values()) out.push({ pfn: z.base + i * POW2[o]!, order: o, mt });
        }
      }
    }
    return out.sort((a, b) => a.pfn - b.pfn);
  }
}
