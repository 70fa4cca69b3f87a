/**
 * `struct page` as KHO needs it: `private` (u64), refcount, compound order and head flag, a
 * few page flags. Real kernels spend 64 bytes per 4 KiB page on this (the memmap); the model
 * stores it only for pages that have state (allocated heads, KHO-preserved blocks, restored
 * pages). Pages without an entry read as all-zero: refcount 0, private 0, no flags.
 *
 * Storage is struct-of-arrays per 1024-page section (4 MiB of RAM), created on first write and
 * dropped when its last entry is cleared; sections are found through a Map keyed by
 * `pfn / 1024` with a one-entry cache. Each field's array (flags 1 KiB, refcount 4 KiB, order
 * 1 KiB, private 8 KiB) is allocated on the first write of that field: a section of allocated
 * blocks costs 6 KiB, one that also holds KHO's `page->private` 14 KiB.
 */
import { MmError, checkU } from './mm-error.ts';

/** Page flag: head page of a compound page (folio of order > 0). */
export const PG_HEAD = 0x1;
/** Page flag: the page was restored from a KHO preservation (model bookkeeping). */
export const PG_KHO_RESTORED = 0x2;
/** Internal: the entry has state (so an all-zero entry can be told from a used one). */
const PG_USED = 0x80;

const SEC_SHIFT = 10;
const SEC_PAGES = 1 << SEC_SHIFT;
const SEC_MASK = SEC_PAGES - 1;
const INV_SEC = 1 / SEC_PAGES;
const MAX_PFN = 0x1_0000_0000_00; // 2^40 pfns = 2^52 bytes

/** Shared all-zero arrays standing in for fields a section has not written yet. */
const ZERO_U32 = new Uint32Array(2 * SEC_PAGES);
const ZERO_I32 = new Int32Array(SEC_PAGES);
const ZERO_U8 = new Uint8Array(SEC_PAGES);

class Section {
  /** `page->private` as [lo, hi] pairs. */
  priv: Uint32Array = ZERO_U32;
  ref: Int32Array = ZERO_I32;
  order: Uint8Array = ZERO_U8;
  readonly flags = new Uint8Array(SEC_PAGES);
  used = 0;

  privW(): Uint32Array {
    if (this.priv === ZERO_U32) this.priv = new Uint32Array(2 * SEC_PAGES);
    return this.priv;
  }

  refW(): Int32Array {
    if (this.ref === ZERO_I32) this.ref = new Int32Array(SEC_PAGES);
    return this.ref;
  }

  orderW(): Uint8Array {
    if (this.order === ZERO_U8) this.order = new Uint8Array(SEC_PAGES);
    return this.order;
  }
}

/** Sparse per-page metadata. */
export class PageMeta {
  private readonly sections = new Map<number, Section>();
  private cacheKey = -1;
  private cacheSec: Section | undefined = undefined;
  private entries = 0;
  /** Keys of sections that became empty; swept in batches so alloc/free pairs do not churn. */
  private emptied: number[] = [];

  /** Number of pages that have an entry. */
  get count(): number {
    return this.entries;
  }

  /** Number of allocated sections (memory cost; empty ones are dropped in batches). */
  get sectionCount(): number {
    return this.sections.size;
  }

  private sec(pfn: number): Section | undefined {
    const key = Math.floor(pfn * INV_SEC);
    if (key === this.cacheKey) return this.cacheSec;
    const s = this.sections.get(key);
    this.cacheKey = key;
    this.cacheSec = s;
    return s;
  }

  private secW(pfn: number): Section {
    let s = this.sec(pfn);
    if (s === undefined) {
      if (!(pfn >= 0 && pfn < MAX_PFN && Number.isInteger(pfn))) checkU('pfn', pfn, MAX_PFN - 1);
      s = new Section();
      const key = Math.floor(pfn * INV_SEC);
      this.sections.set(key, s);
      this.cacheKey = key;
      this.cacheSec = s;
    }
    return s;
  }

  /** Index inside the section; exact for any pfn below 2^53. */
  private static idx(pfn: number): number {
    return (pfn - Math.floor(pfn * INV_SEC) * SEC_PAGES) & SEC_MASK;
  }

  private touch(s: Section, i: number): void {
    if ((s.flags[i]! & PG_USED) === 0) {
      s.flags[i] = PG_USED;
      s.used++;
      this.entries++;
    }
  }

  /** True when the page has any state. */
  has(pfn: number): boolean {
    const s = this.sec(pfn);
    return s !== undefined && (s.flags[PageMeta.idx(pfn)]! & PG_USED) !== 0;
  }

  /** Low 32 bits of `page->private`. */
  privateLo(pfn: number): number {
    const s = this.sec(pfn);
    return s === undefined ? 0 : s.priv[2 * PageMeta.idx(pfn)]!;
  }

  /** High 32 bits of `page->private`. */
  privateHi(pfn: number): number {
    const s = this.sec(pfn);
    return s === undefined ? 0 : s.priv[2 * PageMeta.idx(pfn) + 1]!;
  }

  /** `set_page_private` with the value as two 32-bit halves. */
  setPrivate(pfn: number, hi: number, lo: number): void {
    const s = this.secW(pfn);
    const i = PageMeta.idx(pfn);
    this.touch(s, i);
    const p = s.privW();
    p[2 * i] = lo;
    p[2 * i + 1] = hi;
  }

  /** `page_ref_count`. */
  refcount(pfn: number): number {
    const s = this.sec(pfn);
    return s === undefined ? 0 : s.ref[PageMeta.idx(pfn)]!;
  }

  /** `set_page_count`. */
  setRefcount(pfn: number, n: number): void {
    const s = this.secW(pfn);
    const i = PageMeta.idx(pfn);
    this.touch(s, i);
    s.refW()[i] = n;
  }

  /** `page_ref_inc`; returns the new count. */
  getPage(pfn: number): number {
    const s = this.secW(pfn);
    const i = PageMeta.idx(pfn);
    this.touch(s, i);
    return ++s.refW()[i]!;
  }

  /** `page_ref_dec_return`; throws EINVAL on a page whose count is already 0. */
  putPage(pfn: number): number {
    const s = this.sec(pfn);
    const i = PageMeta.idx(pfn);
    if (s === undefined || s.ref[i]! <= 0) {
      throw new MmError('EINVAL', `put_page on pfn 0x${pfn.toString(16)} with refcount 0 (bad page state)`);
    }
    return --s.refW()[i]!;
  }

  /** Page flags (PG_HEAD, PG_KHO_RESTORED). */
  flags(pfn: number): number {
    const s = this.sec(pfn);
    return s === undefined ? 0 : s.flags[PageMeta.idx(pfn)]! & ~PG_USED;
  }

  /** Set page flags. */
  setFlags(pfn: number, f: number): void {
    const s = this.secW(pfn);
    const i = PageMeta.idx(pfn);
    this.touch(s, i);
    s.flags[i]! |= f & 0x7f;
  }

  /** Clear page flags. */
  clearFlags(pfn: number, f: number): void {
    const s = this.sec(pfn);
    if (s !== undefined) s.flags[PageMeta.idx(pfn)]! &= ~(f & 0x7f);
  }

  /** The order stored with the page (compound order of a head, allocation order of a block). */
  order(pfn: number): number {
    const s = this.sec(pfn);
    return s === undefined ? 0 : s.order[PageMeta.idx(pfn)]!;
  }

  /** Store an order with the page. */
  setOrder(pfn: number, order: number): void {
    const s = this.secW(pfn);
    const i = PageMeta.idx(pfn);
    this.touch(s, i);
    s.orderW()[i] = order;
  }

  /**
   * The head of the compound page containing `pfn`, or -1: `pfn` itself when it is a head,
   * otherwise the nearest aligned head below whose order covers `pfn` (orders up to 40, since
   * restored KHO folios may exceed MAX_PAGE_ORDER).
   */
  compoundHead(pfn: number): number {
    if ((this.flags(pfn) & PG_HEAD) !== 0) return pfn;
    let block = 1;
    for (let o = 1; o <= 40; o++) {
      block *= 2;
      const head = Math.floor(pfn / block) * block;
      if (head !== pfn && (this.flags(head) & PG_HEAD) !== 0 && this.order(head) >= o) return head;
    }
    return -1;
  }

  /** Forget everything about one page. */
  clear(pfn: number): void {
    const s = this.sec(pfn);
    if (s === undefined) return;
    const i = PageMeta.idx(pfn);
    if ((s.flags[i]! & PG_USED) === 0) return;
    s.flags[i] = 0;
    if (s.priv !== ZERO_U32) {
      s.priv[2 * i] = 0;
      s.priv[2 * i + 1] = 0;
    }
    if (s.ref !== ZERO_I32) s.ref[i] = 0;
    if (s.order !== ZERO_U8) s.order[i] = 0;
    this.entries--;
    if (--s.used === 0) {
      this.emptied.push(Math.floor(pfn * INV_SEC));
      if (this.emptied.length > 64) this.sweep();
    }
  }

  /** Drop sections that are still empty (all their arrays are zero again). */
  private sweep(): void {
    for (const key of this.emptied) {
      const s = this.sections.get(key);
      if (s === undefined || s.used !== 0) continue;
      this.sections.delete(key);
      if (this.cacheKey === key) {
        this.cacheKey = -1;
        this.cacheSec = undefined;
      }
    }
    this.emptied = [];
  }

  /** Sections overlapping `[startPfn, endPfn)` as `[key, section]`, ascending by key. */
  private overlapping(startPfn: number, endPfn: number): [number, Section][] {
    const k0 = Math.floor(startPfn * INV_SEC);
    const k1 = Math.floor((endPfn - 1) * INV_SEC);
    const out: [number, Section][] = [];
    if (k1 - k0 < this.sections.size) {
      for (let k = k0; k <= k1; k++) {
        const s = this.sections.get(k);
        if (s !== undefined) out.push([k, s]);
      }
      return out;
    }
    for (const [k, s] of this.sections) if (k >= k0 && k <= k1) out.push([k, s]);
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Forget every page in `[startPfn, endPfn)`; costs only for sections that exist. */
  clearRange(startPfn: number, endPfn: number): void {
    if (this.entries === 0 || startPfn >= endPfn) return;
    if (endPfn - startPfn <= 64) {
      for (let p = startPfn; p < endPfn; p++) this.clear(p);
      return;
    }
    for (const [key, s] of this.overlapping(startPfn, endPfn)) {
      if (s.used === 0) continue;
      const base = key * SEC_PAGES;
      const a = Math.max(startPfn, base);
      const b = Math.min(endPfn, base + SEC_PAGES);
      for (let p = a; p < b; p++) this.clear(p);
    }
  }

  /** First pfn in `[startPfn, endPfn)` with a refcount above 0, or -1. */
  firstReferenced(startPfn: number, endPfn: number): number {
    if (this.entries === 0 || startPfn >= endPfn) return -1;
    for (const [key, s] of this.overlapping(startPfn, endPfn)) {
      const base = key * SEC_PAGES;
      const a = Math.max(startPfn, base) - base;
      const b = Math.min(endPfn, base + SEC_PAGES) - base;
      if (s.ref === ZERO_I32) continue;
      for (let i = a; i < b; i++) if (s.ref[i]! > 0) return base + i;
    }
    return -1;
  }

  /** Pfns that have an entry, ascending (tests and debugging). */
  pfns(): number[] {
    const out: number[] = [];
    const keys = [...this.sections.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      const s = this.sections.get(key)!;
      for (let i = 0; i < SEC_PAGES; i++) if ((s.flags[i]! & PG_USED) !== 0) out.push(key * SEC_PAGES + i);
    }
    return out;
  }
}
