/**
 * The KHO radix-tree memory tracker (kernel/liveupdate/kexec_handover.c, `struct kho_radix_tree`): preserved
 * blocks are keys in a 6-level tree whose node pages live in simulated physical memory, allocated through
 * a page-allocator callback (the buddy allocator in a kernel, a bump allocator in tests).
 *
 * All tree state is in memory: this object holds the root address, the memory and the
 * allocator, plus a cache of the last path taken (page views, never consulted as truth about
 * which entries exist; safe because entries, once set, only change during a failed insert's
 * rollback, which drops the cache). A successor reads the same tree with
 * {@link walkRadixTree} from just `(mem, rootPhys)`.
 *
 * Hot paths stay on numbers (docs/radix.md): the key is split once into two u32 halves and every
 * index is an integer operation; no BigInt, no `2 ** k`, no `%`.
 */
import { KHO_PAGE_SIZE, KhoRadixError, POW2 } from '../abi/kho-radix.ts';
import {
  RADIX_ERRNO,
  visitRadixLeaves,
  walkRadixTree,
  type RadixLeafVisitor,
  type RadixMemory,
  type RadixWalkCallback,
  type RadixWalkOptions,
} from './radix-walk.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';

export { RADIX_ERRNO, walkRadixTree, visitRadixLeaves } from './radix-walk.ts';
export type {
  RadixMemory,
  RadixProblem,
  RadixProblemKind,
  RadixWalkCallback,
  RadixWalkOptions,
  RadixLeafVisitor,
} from './radix-walk.ts';

/** What the tracker needs of memory: the walk's needs plus `dropEpoch` to keep views honest. */
export type RadixTreeMemory = RadixMemory & Pick<PhysicalMemory, 'dropEpoch'>;

/** Where node pages come from: the kernel's `get_zeroed_page()` / `free_page()`. */
export interface RadixPageAllocator {
  /** The pfn of a zeroed page, or `null` when out of memory. */
  allocZeroedPage(): number | null;
  /** Gives back a page obtained from {@link allocZeroedPage}. */
  freePage(pfn: number): void;
}

/** Options of a tracker. */
export interface RadixTreeOptions {
  /** Receives WARN-like diagnostics (kernel: WARN_ON / pr_warn), e.g. for dmesg. */
  warn?: (message: string) => void;
}

/** Block counts of a tree, from a bulk walk (popcounts, no per-block callback). */
export interface RadixTreeStats {
  /** Node pages reachable from the root, root included. */
  nodePages: number;
  intermediatePages: number;
  leafPages: number;
  /** Set bits (preserved blocks). */
  blocks: number;
  /** Blocks per order, index = order (0..52). */
  blocksByOrder: number[];
  /** Bytes the blocks cover (overlapping blocks count twice). */
  bytes: number;
}

/** pfns are below 2^40: blocks lie in the 52-bit physical address space. */
const MAX_PFN = 0x100_0000_0000;
/** Highest order `add` accepts: an order-40 block is the whole 2^52-byte space. */
export const RADIX_MAX_ORDER = 40;
const INV32 = 1 / 0x1_0000_0000;
const EMPTY = new Uint32Array(0);
/** Entries of the direct-mapped leaf cache (a power of two; 16384 leaves = 2 TiB of pages). */
const LEAF_CACHE_SIZE = 16384;
/** The leaf cache of a tree that has not filled one yet: all misses, shared, never written. */
const NO_TAGS = new Float64Array(LEAF_CACHE_SIZE).fill(-1);

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** A KHO radix tree in simulated memory (kernel: `struct kho_radix_tree`). */
export class KhoRadixTree {
  /** The memory holding the nodes. */
  readonly mem: RadixTreeMemory;
  /** Where node pages come from. */
  readonly alloc: RadixPageAllocator;
  /** Physical address of the root (level-5) page; 0 = no root (KHO off or not initialised). */
  readonly rootPhys: number;

  private readonly rootPfn: number;
  private readonly warnFn: (message: string) => void;
  private warnedNoRoot = false;

  // Last path: node views and the key prefixes they cover (-1 = none).
  private cLeafPrefix = -1;
  private cLeaf: Uint32Array = EMPTY;
  private cP1 = -1;
  private cN1: Uint32Array = EMPTY;
  private cP2 = -1;
  private cN2: Uint32Array = EMPTY;
  private cP3 = -1;
  private cN3: Uint32Array = EMPTY;
  private cP4 = -1;
  private cN4: Uint32Array = EMPTY;

  /**
   * A tracker over an existing root page (zeroed for a new tree), or with `rootPhys` 0 a
   * tracker with no root, whose calls fail with -EINVAL as in the kernel before `kho_init()`.
   */
  constructor(
    mem: RadixTreeMemory,
    alloc: RadixPageAllocator,
    rootPhys: number,
    opts: RadixTreeOptions = {},
  ) {
    if (
      typeof rootPhys !== 'number' ||
      !Number.isSafeInteger(rootPhys) ||
      rootPhys < 0 ||
      rootPhys % KHO_PAGE_SIZE !== 0 ||
      rootPhys / KHO_PAGE_SIZE >= mem.maxPfn
    ) {
      throw new KhoRadixError('EINVAL', `radix root ${String(rootPhys)} is not a page address inside memory`);
    }
    this.mem = mem;
    this.alloc = alloc;
    this.rootPhys = rootPhys;
    this.rootPfn = rootPhys === 0 ? -1 : rootPhys / KHO_PAGE_SIZE;
    this.warnFn = opts.warn ?? (() => undefined);
  }

  /**
   * A new empty tree: allocates the zeroed root page; `null` when that fails (-ENOMEM), also
   * when the allocator hands out pfn 0 or a pfn outside memory (WARNed).
   */
  static create(
    mem: RadixTreeMemory,
    alloc: RadixPageAllocator,
    opts: RadixTreeOptions = {},
  ): KhoRadixTree | null {
    const pfn = alloc.allocZeroedPage();
    if (pfn === null) return null;
    if (!Number.isInteger(pfn) || pfn <= 0 || pfn >= mem.maxPfn) {
      // Page 0 cannot be a node (its address reads as "empty"); give it back.
      if (pfn === 0) alloc.freePage(0);
      opts.warn?.(`kho_radix: page allocator returned a bad pfn ${String(pfn)}`);
      return null;
    }
    mem.page(pfn).fill(0);
    return new KhoRadixTree(mem, alloc, pfn * KHO_PAGE_SIZE, opts);
  }

  private noRoot(what: string): number {
    if (!this.warnedNoRoot) {
      this.warnedNoRoot = true;
      this.warnFn(`WARNING: kho_radix_${what}: radix tree has no root`);
    }
    return -RADIX_ERRNO.EINVAL;
  }

  private badBlock(what: string, pfn: number, order: number): number {
    this.warnFn(`kho_radix_${what}: invalid block pfn ${String(pfn)} order ${String(order)}`);
    return -RADIX_ERRNO.EINVAL;
  }

  /** Forgets the cached path (after a rollback freed pages). */
  private dropCache(): void {
    this.cLeafPrefix = this.cP1 = this.cP2 = this.cP3 = this.cP4 = -1;
    this.cLeaf = this.cN1 = this.cN2 = this.cN3 = this.cN4 = EMPTY;
    // Freed pages may be discarded and their storage reused: forget every view.
    // Only the slots filled since the last drop are reset: cost follows use, not table size.
    const tags = this.lTag;
    if (tags !== NO_TAGS) {
      const used = this.lUsed;
      for (let k = 0; k < this.lUsedN; k++) {
        const slot = used[k]!;
        tags[slot] = -1;
        this.lView[slot] = EMPTY;
      }
      this.lUsedN = 0;
    }
    const low = this.lowLeaf;
    for (const i of this.lowUsed) low[i] = EMPTY;
    this.lowUsed.length = 0;
  }

  // Direct-mapped cache key prefix (key >> 15) → leaf page view: random inserts skip the
  // descent (two node reads and two `mem.page()` lookups) when their leaf was seen before.
  private lTag: Float64Array = NO_TAGS;
  private lView: Uint32Array[] = [];
  /** Slots filled since the last drop (each slot at most once). */
  private lUsed = new Int32Array(0);
  private lUsedN = 0;

  /** `mem.dropEpoch` when the caches were last known valid. */
  private epoch = -1;

  /** Drops cached views when memory dropped pages since (a view could alias a reused slot). */
  private checkEpoch(): void {
    const e = this.mem.dropEpoch;
    if (e !== this.epoch) {
      this.dropCache();
      this.epoch = e;
    }
  }

  /** The leaf of a key (halves; `lp` = key >> 15), found or built; null on error (`err`). */
  private leafOf(hi: number, lo: number, lp: number, create: boolean): Uint32Array | null {
    this.checkEpoch();
    let tags = this.lTag;
    if (tags === NO_TAGS) {
      tags = this.lTag = new Float64Array(LEAF_CACHE_SIZE).fill(-1);
      this.lView = new Array<Uint32Array>(LEAF_CACHE_SIZE).fill(EMPTY);
      this.lUsed = new Int32Array(LEAF_CACHE_SIZE);
    }
    const slot = ((lo >>> 15) ^ (hi << 3)) & (LEAF_CACHE_SIZE - 1);
    if (tags[slot] === lp) return this.lView[slot]!;
    const r = this.descend(hi, lo, lp, create);
    if (r !== 0) {
      this.err = r;
      return null;
    }
    if (tags[slot] === -1) this.lUsed[this.lUsedN++] = slot;
    tags[slot] = lp;
    this.lView[slot] = this.cLeaf;
    return this.cLeaf;
  }

  /** The error of the last failed {@link leafOf}. */
  private err = 0;

  // Key halves of the last `keyOf` call (fields, so the hot path allocates nothing).
  private kHi = 0;
  private kLo = 0;

  /** Splits key(pfn, order) into `kHi` (bits 32..52) and `kLo` (bits 0..31); false if invalid. */
  private keyOf(pfn: number, order: number): boolean {
    if (!(pfn >= 0 && pfn < MAX_PFN && order >= 0 && order <= RADIX_MAX_ORDER)) return false;
    if (pfn !== Math.floor(pfn) || order !== (order | 0)) return false;
    const pLo = pfn >>> 0;
    const pHi = (pfn - pLo) * INV32;
    if (order === 0) {
      this.kLo = pLo;
      this.kHi = pHi | 0x10_0000;
    } else if (order < 32) {
      let lo = (pLo >>> order) | (pHi << (32 - order));
      let hi = pHi >>> order;
      if (order <= 20) hi |= 1 << (20 - order);
      else lo |= 1 << (52 - order);
      this.kLo = lo;
      this.kHi = hi;
    } else {
      this.kLo = (pHi >>> (order - 32)) | (1 << (52 - order));
      this.kHi = 0;
    }
    return true;
  }

  /**
   * Adds the block of `2^order` pages at `pfn` (kernel `kho_radix_add_page`; low pfn bits below
   * the order are ignored). Returns 0, -EINVAL (no root, or a block outside the 52-bit space),
   * -ENOMEM (allocation failed; pages of this call freed, tree unchanged) or -EFAULT (a corrupt
   * node pointer on the path). Adding twice is idempotent.
   */
  add(pfn: number, order: number): number {
    // Fast path, kept small so it inlines into callers and few instructions stand between two
    // adds' leaf-word misses: an order-0 block below pfn 2^32 (key = 2^52 | pfn, so the leaf is
    // fixed by pfn >>> 15 alone) whose leaf is in the direct-mapped table. `lo === pfn` is the
    // whole integer and range check. Without a root the table stays empty: slow path.
    if (order === 0) {
      const lo = pfn >>> 0;
      if (lo === pfn && this.mem.dropEpoch === this.epoch) {
        const i = lo >>> 15;
        const low = this.lowLeaf;
        if (i < low.length) {
          const leaf = low[i]!;
          if (leaf.length !== 0) {
            const b = lo & 0x7fff;
            leaf[b >>> 5]! |= 1 << (b & 31);
            return 0;
          }
        }
      }
    }
    return this.addSlow(pfn, order);
  }

  /** {@link add} for everything but an order-0 block below pfn 2^32 with a cached leaf. */
  private addSlow(pfn: number, order: number): number {
    if (this.rootPfn < 0) return this.noRoot('add_page');
    if (!this.keyOf(pfn, order)) return this.badBlock('add_page', pfn, order);
    const hi = this.kHi;
    const lo = this.kLo;
    const lp = hi * 131072 + (lo >>> 15);
    let leaf: Uint32Array;
    if (hi === 0x10_0000) {
      // Order 0 below pfn 2^32: find the leaf and enter it in the fast path's table.
      this.checkEpoch();
      if (lp !== this.cLeafPrefix) {
        const r = this.descend(hi, lo, lp, true);
        if (r !== 0) return r;
      }
      leaf = this.cLeaf;
      this.cacheLow(lo >>> 15, leaf);
    } else if (lp === this.cLeafPrefix && this.mem.dropEpoch === this.epoch) leaf = this.cLeaf;
    else {
      const l = this.leafOf(hi, lo, lp, true);
      if (l === null) return this.err;
      leaf = l;
    }
    const b = lo & 0x7fff;
    leaf[b >>> 5]! |= 1 << (b & 31);
    return 0;
  }

  // Direct-mapped table of the leaves of order-0 keys below pfn 2^32, indexed by pfn >>> 15
  // (no tag needed); EMPTY = not cached. Grows to the highest index used (at most 2^17).
  private lowLeaf: Uint32Array[] = [];
  /** Indices of {@link lowLeaf} filled since the last drop. */
  private lowUsed: number[] = [];

  /** Enters a leaf in {@link lowLeaf}, growing the table by doubling. */
  private cacheLow(i: number, leaf: Uint32Array): void {
    const low = this.lowLeaf;
    if (i >= low.length) {
      let n = low.length === 0 ? 64 : low.length * 2;
      while (n <= i) n *= 2;
      while (low.length < n) low.push(EMPTY);
    }
    if (low[i] === EMPTY) this.lowUsed.push(i);
    low[i] = leaf;
  }

  /**
   * Removes the block (kernel `kho_radix_del_page`): clears its bit, whether set or not. Nodes
   * are never freed. Returns 0, -EINVAL (no root or bad block) or -ENOENT with a WARN when a
   * node on the path is missing (the kernel returns void and WARNs).
   */
  del(pfn: number, order: number): number {
    if (this.rootPfn < 0) return this.noRoot('del_page');
    if (!this.keyOf(pfn, order)) return this.badBlock('del_page', pfn, order);
    const hi = this.kHi;
    const lo = this.kLo;
    const lp = hi * 131072 + (lo >>> 15);
    this.checkEpoch();
    if (lp !== this.cLeafPrefix) {
      const r = this.descend(hi, lo, lp, false);
      if (r !== 0) {
        if (r === -RADIX_ERRNO.ENOENT) {
          this.warnFn(
            `WARNING: kho_radix_del_page: no node on the path of pfn 0x${pfn.toString(16)} order ${order}`,
          );
        }
        return r;
      }
    }
    const b = lo & 0x7fff;
    this.cLeaf[b >>> 5]! &= ~(1 << (b & 31));
    return 0;
  }

  /** True when the block's bit is set (a test helper; the kernel has no such call). */
  has(pfn: number, order: number): boolean {
    if (this.rootPfn < 0 || !this.keyOf(pfn, order)) return false;
    const hi = this.kHi;
    const lo = this.kLo;
    const lp = hi * 131072 + (lo >>> 15);
    this.checkEpoch();
    if (lp !== this.cLeafPrefix && this.descend(hi, lo, lp, false) !== 0) return false;
    const b = lo & 0x7fff;
    return (this.cLeaf[b >>> 5]! & (1 << (b & 31))) !== 0;
  }

  /**
   * Finds (or with `create`, builds) the path of a key down to its leaf and caches it.
   * Starts from the deepest cached node that covers the key. Returns 0 or -errno.
   */
  private descend(hi: number, lo: number, lp: number, create: boolean): number {
    const p1 = hi * 256 + (lo >>> 24);
    const p2 = hi >>> 1;
    const p3 = hi >>> 10;
    const p4 = hi >>> 19;
    let level: number;
    let node: Uint32Array;
    if (p1 === this.cP1) {
      level = 1;
      node = this.cN1;
    } else if (p2 === this.cP2) {
      level = 2;
      node = this.cN2;
    } else if (p3 === this.cP3) {
      level = 3;
      node = this.cN3;
    } else if (p4 === this.cP4) {
      level = 4;
      node = this.cN4;
    } else {
      level = 5;
      node = this.mem.page(this.rootPfn);
    }
    let anchor: Uint32Array | null = null;
    let anchorAt = 0;
    let fresh: number[] | null = null;
    for (; level >= 1; level--) {
      let i: number;
      switch (level) {
        case 1:
          i = (lo >>> 15) & 511;
          break;
        case 2:
          i = (lo >>> 24) | ((hi & 1) << 8);
          break;
        case 3:
          i = (hi >>> 1) & 511;
          break;
        case 4:
          i = (hi >>> 10) & 511;
          break;
        default:
          i = hi >>> 19;
      }
      const at = i << 1;
      const eLo = node[at]!;
      const eHi = node[at + 1]!;
      let child: Uint32Array;
      if ((eLo | eHi) === 0) {
        if (!create) return -RADIX_ERRNO.ENOENT;
        const pfn = this.alloc.allocZeroedPage();
        if (pfn === null || !(pfn > 0 && pfn < this.mem.maxPfn) || pfn !== Math.floor(pfn)) {
          if (pfn !== null) {
            this.warnFn(`kho_radix_add_page: page allocator returned a bad pfn ${String(pfn)}`);
            if (pfn === 0) this.alloc.freePage(0);
          }
          this.rollback(anchor, anchorAt, fresh);
          return -RADIX_ERRNO.ENOMEM;
        }
        (fresh ??= []).push(pfn);
        child = this.mem.page(pfn);
        child.fill(0); // the allocator promises zeroed pages; a tree must not trust stale bytes
        if (anchor === null) {
          anchor = node;
          anchorAt = at;
        }
        node[at] = (pfn & 0xfffff) << 12;
        node[at + 1] = Math.floor(pfn / 0x10_0000);
      } else {
        const pfn = (eLo & 0xfff) === 0 && eHi < 0x10_0000 ? eHi * 0x10_0000 + (eLo >>> 12) : -1;
        if (pfn <= 0 || pfn >= this.mem.maxPfn) {
          this.warnFn(
            `kho_radix: corrupt level-${level} entry ${i}: 0x${eHi.toString(16)}_${eLo.toString(16)}`,
          );
          this.rollback(anchor, anchorAt, fresh);
          return -RADIX_ERRNO.EFAULT;
        }
        child = this.mem.page(pfn);
      }
      switch (level) {
        case 5:
          this.cP4 = p4;
          this.cN4 = child;
          break;
        case 4:
          this.cP3 = p3;
          this.cN3 = child;
          break;
        case 3:
          this.cP2 = p2;
          this.cN2 = child;
          break;
        case 2:
          this.cP1 = p1;
          this.cN1 = child;
          break;
        default:
          this.cLeafPrefix = lp;
          this.cLeaf = child;
      }
      node = child;
    }
    return 0;
  }

  /** Undoes a failed insert: zero the first new entry, free this call's pages, drop the cache. */
  private rollback(anchor: Uint32Array | null, at: number, fresh: number[] | null): void {
    if (anchor !== null) {
      anchor[at] = 0;
      anchor[at + 1] = 0;
    }
    if (fresh !== null) {
      for (const pfn of fresh) this.alloc.freePage(pfn);
    }
    if (fresh !== null || anchor !== null) this.dropCache();
  }

  /**
   * Walks the tree (kernel `kho_radix_walk_tree`): `cb(phys, order)` per preserved block in
   * ascending key order; a non-zero result stops the walk and is returned. -EINVAL without a
   * root; -EFAULT when memory holds a corrupt tree (problems go to the `warn` option).
   */
  walk(cb: RadixWalkCallback, opts: RadixWalkOptions = {}): number {
    if (this.rootPfn < 0) return this.noRoot('walk_tree');
    return walkRadixTree(this.mem, this.rootPhys, cb, {
      ...opts,
      onProblem:
        opts.onProblem ??
        ((p) => {
          this.warnFn(`kho_radix_walk_tree: ${p.message}`);
        }),
    });
  }

  /** Visits each leaf page (bulk walk: `visit(leafPhys, keyPrefix, words)`), ascending. */
  visitLeaves(visit: RadixLeafVisitor, opts: RadixWalkOptions = {}): number {
    if (this.rootPfn < 0) return this.noRoot('walk_tree');
    return visitRadixLeaves(this.mem, this.rootPhys, visit, opts);
  }

  /** Node pages of the tree (root, intermediate and leaves), counted in memory. */
  nodePages(): number {
    if (this.rootPfn < 0) return 0;
    let n = 0;
    visitRadixLeaves(this.mem, this.rootPhys, () => 0, {
      onNode: () => {
        n++;
      },
      onProblem: () => undefined,
    });
    return n;
  }

  /** Memory the tracker itself uses: node pages × 4096 bytes. */
  metadataBytes(): number {
    return this.nodePages() * KHO_PAGE_SIZE;
  }

  /** Counts pages and blocks with one bulk walk (popcount per word). */
  stats(): RadixTreeStats {
    return radixTreeStats(this.mem, this.rootPhys);
  }

  /** Every block as parallel typed arrays, ascending key order (for inspect and tests). */
  collect(): { phys: Float64Array; order: Uint8Array } {
    const n = this.stats().blocks;
    const phys = new Float64Array(n);
    const order = new Uint8Array(n);
    let k = 0;
    if (this.rootPfn >= 0) {
      walkRadixTree(this.mem, this.rootPhys, (p, o) => {
        if (k >= n) return 1;
        phys[k] = p;
        order[k++] = o;
        return 0;
      });
    }
    return { phys: phys.subarray(0, k), order: order.subarray(0, k) };
  }
}

/**
 * Counts the pages and set bits of the tree at `rootPhys` reading only `mem` (a bulk walk:
 * popcounts, no per-block callback; bad parts skipped as by {@link walkRadixTree}, but bits of
 * blocks beyond 2^52 are counted).
 */
export function radixTreeStats(
  mem: RadixMemory,
  rootPhys: number,
  opts: RadixWalkOptions = {},
): RadixTreeStats {
  const s: RadixTreeStats = {
    nodePages: 0,
    intermediatePages: 0,
    leafPages: 0,
    blocks: 0,
    blocksByOrder: new Array<number>(53).fill(0),
    bytes: 0,
  };
  if (rootPhys === 0) return s;
  visitRadixLeaves(
    mem,
    rootPhys,
    (_phys, prefix, words) => {
      if (prefix === 0) {
        // Keys 1..32767: orders 38..52, one per bit (key 0 has no order).
        for (let w = 0; w < 1024; w++) {
          let x = words[w]!;
          while (x !== 0) {
            const t = x & -x;
            x ^= t;
            const bit = (w << 5) | (31 - Math.clz32(t));
            if (bit === 0) continue;
            s.blocks++;
            s.blocksByOrder[53 - (32 - Math.clz32(bit))]!++;
          }
        }
        return 0;
      }
      let n = 0;
      for (let w = 0; w < 1024; w++) {
        const x = words[w]!;
        if (x !== 0) n += popcount32(x);
      }
      const fls =
        prefix >= 0x1_0000_0000 ? 64 - Math.clz32(Math.floor(prefix * INV32)) : 32 - Math.clz32(prefix);
      const order = 38 - fls;
      s.blocks += n;
      s.blocksByOrder[order]! += n;
      return 0;
    },
    {
      ...opts,
      onNode: (_phys, level) => {
        s.nodePages++;
        if (level === 0) s.leafPages++;
        else s.intermediatePages++;
      },
    },
  );
  for (let o = 0; o <= 52; o++) s.bytes += s.blocksByOrder[o]! * POW2[12 + o]!;
  return s;
}
